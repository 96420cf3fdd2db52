package raftpb

import "fmt"

// MessageType names a Raft message.
type MessageType uint8

const (
	// MsgApp carries entries after (Index, LogTerm) and the leader's commit.
	MsgApp MessageType = iota + 1
	// MsgAppResp acknowledges (Index = last matching index) or rejects
	// (Reject, RejectHint, LogTerm) a MsgApp or MsgSnap.
	MsgAppResp
	// MsgVote asks for a vote in Term for a candidate whose log ends at
	// (Index, LogTerm).
	MsgVote
	// MsgVoteResp grants or rejects (Reject) a MsgVote.
	MsgVoteResp
	// MsgPreVote asks whether the receiver would vote in Term, without
	// anyone changing term.
	MsgPreVote
	// MsgPreVoteResp answers a MsgPreVote.
	MsgPreVoteResp
	// MsgHeartbeat is the small, coalescable leader liveness message: Term,
	// Commit and the read-confirmation Context only.
	MsgHeartbeat
	// MsgHeartbeatResp answers a MsgHeartbeat, echoing its Context.
	MsgHeartbeatResp
	// MsgSnap carries a snapshot (its metadata, and Data when the store
	// sends it inline).
	MsgSnap
	// MsgTimeoutNow tells the receiver to campaign at once (leadership
	// transfer), bypassing pre-vote and leader leases.
	MsgTimeoutNow
	// MsgQuiesce is a heartbeat that also tells the follower the group is
	// idle: stop ticking until any message or a wake call arrives.
	MsgQuiesce
)

// lint:immutable (a lookup table, never written)
var messageTypeNames = [...]string{
	MsgApp:           "MsgApp",
	MsgAppResp:       "MsgAppResp",
	MsgVote:          "MsgVote",
	MsgVoteResp:      "MsgVoteResp",
	MsgPreVote:       "MsgPreVote",
	MsgPreVoteResp:   "MsgPreVoteResp",
	MsgHeartbeat:     "MsgHeartbeat",
	MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgSnap:          "MsgSnap",
	MsgTimeoutNow:    "MsgTimeoutNow",
	MsgQuiesce:       "MsgQuiesce",
}

// MaxMessageType is the highest valid MessageType; decoders use it to reject
// unknown types.
const MaxMessageType = MsgQuiesce

func (t MessageType) String() string {
	if t >= 1 && t <= MaxMessageType {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// IsResponse reports whether t answers another message.
func (t MessageType) IsResponse() bool {
	switch t {
	case MsgAppResp, MsgVoteResp, MsgPreVoteResp, MsgHeartbeatResp:
		return true
	}
	return false
}

// IsHeartbeat reports whether t is one of the small liveness messages the
// transport coalesces across groups (heartbeats, their responses and the
// quiesce heartbeat). Such messages use only Group, From, To, Term, Commit
// and Context.
func (t MessageType) IsHeartbeat() bool {
	return t == MsgHeartbeat || t == MsgHeartbeatResp || t == MsgQuiesce
}

// Message is one Raft message between two replicas of a group. Fields a
// type does not use are zero.
type Message struct {
	Type  MessageType
	Group GroupID
	From  NodeID
	To    NodeID
	Term  Term
	// LogTerm is the term of the entry at Index (MsgApp, MsgVote,
	// MsgPreVote, and a refused MsgVoteResp/MsgPreVoteResp), or, on a
	// rejected MsgAppResp, the term of the rejecting follower's entry at
	// RejectHint.
	LogTerm Term
	// Index: MsgApp, the index before Entries; MsgVote/MsgPreVote, the
	// candidate's last index; MsgAppResp, the acknowledged last index or the
	// rejected MsgApp's Index; a refused MsgVoteResp/MsgPreVoteResp, the
	// voter's commit index (a candidate holding that entry may commit up
	// to it).
	Index Index
	// Commit is the sender's commit index (MsgApp, MsgHeartbeat, MsgQuiesce).
	Commit  Index
	Entries []Entry
	// Reject marks a refused MsgAppResp, MsgVoteResp or MsgPreVoteResp.
	Reject bool
	// RejectHint is, on a rejected MsgAppResp, the highest index at which
	// the follower's log might still match the leader's.
	RejectHint Index
	// Context ties heartbeat responses to the read-index round that asked
	// for them (0: none).
	Context uint64
	// Snapshot is set on MsgSnap only.
	Snapshot *Snapshot
}

func (m Message) String() string {
	s := fmt.Sprintf("%s g%d %d->%d t%d", m.Type, m.Group, m.From, m.To, m.Term)
	switch m.Type {
	case MsgApp:
		s += fmt.Sprintf(" i%d/t%d c%d ents=%d", m.Index, m.LogTerm, m.Commit, len(m.Entries))
	case MsgAppResp:
		s += fmt.Sprintf(" i%d", m.Index)
		if m.Reject {
			s += fmt.Sprintf(" reject hint=%d/t%d", m.RejectHint, m.LogTerm)
		}
	case MsgVote, MsgPreVote:
		s += fmt.Sprintf(" last=%d/t%d", m.Index, m.LogTerm)
	case MsgVoteResp, MsgPreVoteResp:
		if m.Reject {
			s += " reject"
		} else {
			s += " grant"
		}
	case MsgHeartbeat, MsgQuiesce:
		s += fmt.Sprintf(" c%d ctx=%d", m.Commit, m.Context)
	case MsgHeartbeatResp:
		s += fmt.Sprintf(" ctx=%d", m.Context)
	case MsgSnap:
		if m.Snapshot != nil {
			s += fmt.Sprintf(" snap=%d/t%d", m.Snapshot.Metadata.Index, m.Snapshot.Metadata.Term)
		}
	}
	return s
}
