package raftgroup

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Step feeds a message from another replica into the group. A message that
// fails validation is dropped with an error wrapping ErrMalformedMessage;
// stale or irrelevant messages are dropped silently (nil). Step never
// panics on bad input and never breaks an invariant.
func (g *Group) Step(m raftpb.Message) error {
	if err := g.validate(&m); err != nil {
		return err
	}
	if m.Type != raftpb.MsgQuiesce {
		g.wake()
	}
	if !g.stepTerm(&m) {
		return nil
	}
	switch m.Type {
	case raftpb.MsgVote, raftpb.MsgPreVote:
		g.handleVoteRequest(m)
		return nil
	}
	switch g.role {
	case Leader:
		g.stepLeader(m)
	case Candidate, PreCandidate:
		g.stepCandidate(m)
	default:
		g.stepFollower(m)
	}
	return nil
}

func malformed(m *raftpb.Message, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformedMessage, m.Type, why)
}

// validate rejects messages that no correct peer sends.
func (g *Group) validate(m *raftpb.Message) error {
	switch {
	case m.Type < 1 || m.Type > raftpb.MaxMessageType:
		return malformed(m, "unknown type")
	case m.Group != g.group:
		return malformed(m, fmt.Sprintf("for group %d, this is group %d", m.Group, g.group))
	case m.To != g.id:
		return malformed(m, fmt.Sprintf("for node %d, this is node %d", m.To, g.id))
	case m.From == raftpb.None:
		return malformed(m, "no sender")
	case m.From == g.id:
		return ErrStepLocal
	}
	switch m.Type {
	case raftpb.MsgApp:
		return validateEntries(m)
	case raftpb.MsgSnap:
		if m.Snapshot.IsEmpty() || m.Snapshot.Metadata.Term == 0 || m.Snapshot.Metadata.Term > m.Term {
			return malformed(m, "bad snapshot metadata")
		}
	case raftpb.MsgAppResp:
		if m.Reject && m.RejectHint > m.Index {
			return malformed(m, "reject hint past rejected index")
		}
	}
	return nil
}

// validateEntries checks that a MsgApp's entries follow its Index
// contiguously with terms that never decrease nor pass the message's.
func validateEntries(m *raftpb.Message) error {
	prevTerm := m.LogTerm
	if prevTerm > m.Term {
		return malformed(m, "log term past message term")
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Index != m.Index+raftpb.Index(i)+1 {
			return malformed(m, "entries not contiguous")
		}
		if e.Term < prevTerm || e.Term > m.Term || e.Term == 0 {
			return malformed(m, "entry terms out of order")
		}
		if e.Type > raftpb.MaxEntryType {
			return malformed(m, "unknown entry type")
		}
		prevTerm = e.Term
	}
	if m.Index+raftpb.Index(len(m.Entries)) < m.Index {
		return malformed(m, "index overflow")
	}
	return nil
}

// stepTerm applies the term rules; it reports whether m should be handled
// further.
func (g *Group) stepTerm(m *raftpb.Message) bool {
	switch {
	case m.Term > g.term:
		return g.stepHigherTerm(m)
	case m.Term < g.term:
		g.stepLowerTerm(m)
		return false
	}
	return true
}

func (g *Group) stepHigherTerm(m *raftpb.Message) bool {
	if m.Type == raftpb.MsgVote || m.Type == raftpb.MsgPreVote {
		force := m.Context == contextTransfer || (m.Context == contextLeaderDead && !g.cfg.LeaseReads)
		inLease := !g.cfg.DisableCheckQuorum && g.lead != raftpb.None && g.electionElapsed < int32(g.cfg.ElectionTicks)
		if !force && inLease {
			// We hear from a leader: a candidate that cannot reach it must
			// not depose it (CheckQuorum's lease).
			return false
		}
	}
	switch {
	case m.Type == raftpb.MsgPreVote:
		// Pre-votes never change our term.
	case m.Type == raftpb.MsgPreVoteResp && !m.Reject:
		// A grant carries the future term; it is counted, not adopted.
	case m.Type == raftpb.MsgApp || m.Type == raftpb.MsgHeartbeat || m.Type == raftpb.MsgSnap || m.Type == raftpb.MsgQuiesce:
		g.becomeFollower(m.Term, m.From)
	default:
		g.becomeFollower(m.Term, raftpb.None)
	}
	return true
}

func (g *Group) stepLowerTerm(m *raftpb.Message) {
	switch m.Type {
	case raftpb.MsgApp, raftpb.MsgHeartbeat, raftpb.MsgQuiesce:
		// A stale leader (for example one that was partitioned while we
		// moved on): tell it our term so it steps down.
		g.send(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From})
	case raftpb.MsgPreVote:
		g.send(raftpb.Message{Type: raftpb.MsgPreVoteResp, To: m.From, Reject: true})
	}
}

func (g *Group) stepLeader(m raftpb.Message) {
	pr := g.trk.get(m.From)
	if pr == nil {
		return // not a member: ignore its answers
	}
	switch m.Type {
	case raftpb.MsgAppResp:
		g.handleAppendResp(m, pr)
	case raftpb.MsgHeartbeatResp:
		g.handleHeartbeatResp(m, pr)
	}
}

func (g *Group) stepCandidate(m raftpb.Message) {
	switch m.Type {
	case raftpb.MsgApp, raftpb.MsgHeartbeat, raftpb.MsgSnap, raftpb.MsgQuiesce:
		// A leader of our term exists: follow it.
		g.becomeFollower(m.Term, m.From)
		g.stepFollower(m)
	case raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
		g.handleVoteResp(m)
	}
}

func (g *Group) stepFollower(m raftpb.Message) {
	switch m.Type {
	case raftpb.MsgApp:
		g.heardFromLeader(m.From)
		g.handleAppend(m)
	case raftpb.MsgHeartbeat:
		g.heardFromLeader(m.From)
		g.handleHeartbeat(m)
	case raftpb.MsgQuiesce:
		g.heardFromLeader(m.From)
		g.handleQuiesce(m)
	case raftpb.MsgSnap:
		g.heardFromLeader(m.From)
		g.handleSnapshot(m)
	case raftpb.MsgTimeoutNow:
		// Campaign at once, bypassing pre-vote and leases.
		g.hup(true)
	}
}

func (g *Group) heardFromLeader(from raftpb.NodeID) {
	g.electionElapsed = 0
	g.lead = from
	g.leaderDead = false
}
