package raftgroup

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ProgressState is how the leader currently replicates to one follower.
type ProgressState uint8

const (
	// StateProbe: the leader does not know where the follower's log
	// matches; it sends one MsgApp per heartbeat interval until it finds
	// out.
	StateProbe ProgressState = iota
	// StateReplicate: the logs match up to Match; the leader streams
	// MsgApps optimistically, within the in-flight window.
	StateReplicate
	// StateSnapshot: the follower needs a snapshot; nothing else is sent
	// until it is reported applied or failed.
	StateSnapshot
)

func (s ProgressState) String() string {
	switch s {
	case StateProbe:
		return "probe"
	case StateReplicate:
		return "replicate"
	case StateSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("ProgressState(%d)", uint8(s))
}

// progress is the leader's view of one follower (or of itself).
//
// Invariant: match < next.
// Invariant: in StateSnapshot, pendingSnapshot > 0.
//
// NB: the small fields are kept together: every group holds one per
// member, and a node hosts tens of thousands of groups (TestStructSizes).
type progress struct {
	// id is the member this is the progress of.
	id          raftpb.NodeID
	match, next raftpb.Index
	// pendingSnapshot is the index of the snapshot being sent.
	pendingSnapshot raftpb.Index
	// sentCommit is the highest commit index sent to the follower.
	sentCommit raftpb.Index
	// matchAtLastBeat is match when the last heartbeat was sent.
	matchAtLastBeat raftpb.Index
	// readAck is the highest read-index round the follower acknowledged.
	readAck uint64
	// inactiveTicks counts the leader's ticks since this member was last
	// heard from (CheckQuorum).
	inactiveTicks int32
	state         ProgressState
	// recentActive: heard from within the current election timeout.
	recentActive bool
	// probeSent: in StateProbe, a MsgApp is out and the next waits for a
	// heartbeat interval or a response.
	probeSent bool
	isLearner bool
	inflights inflights
}

func (p *progress) resetState(s ProgressState) {
	p.probeSent = false
	p.pendingSnapshot = 0
	p.state = s
	p.inflights.reset()
}

func (p *progress) becomeProbe() {
	if p.state == StateSnapshot {
		pending := p.pendingSnapshot
		p.resetState(StateProbe)
		p.next = max(p.match+1, pending+1)
		return
	}
	p.resetState(StateProbe)
	p.next = p.match + 1
}

func (p *progress) becomeReplicate() {
	p.resetState(StateReplicate)
	p.next = p.match + 1
}

func (p *progress) becomeSnapshot(i raftpb.Index) {
	p.resetState(StateSnapshot)
	p.pendingSnapshot = i
}

// maybeUpdate records an acknowledgement of index n. It reports whether
// Match moved.
func (p *progress) maybeUpdate(n raftpb.Index) bool {
	updated := false
	if p.match < n {
		p.match = n
		updated = true
		p.probeSent = false
	}
	p.next = max(p.next, n+1)
	return updated
}

// sentEntries records that a MsgApp ending at last with bytes of entries
// was sent.
func (p *progress) sentEntries(last raftpb.Index, bytes uint64) {
	switch p.state {
	case StateReplicate:
		if last >= p.next {
			p.next = last + 1
			p.inflights.add(last, bytes)
		}
	case StateProbe:
		p.probeSent = true
	}
}

// maybeDecrTo handles a rejection of the MsgApp sent at index rejected; the
// follower hints its log may match up to matchHint. It reports whether the
// rejection was fresh (not a stale duplicate).
func (p *progress) maybeDecrTo(rejected, matchHint raftpb.Index) bool {
	if p.state == StateReplicate {
		if rejected <= p.match {
			return false
		}
		p.next = p.match + 1
		return true
	}
	if p.next-1 != rejected {
		return false
	}
	p.next = max(min(rejected, matchHint+1), p.match+1)
	p.probeSent = false
	return true
}

// paused reports whether the leader must not send more MsgApps now.
func (p *progress) paused() bool {
	switch p.state {
	case StateProbe:
		return p.probeSent
	case StateReplicate:
		return p.inflights.full()
	}
	return true
}
