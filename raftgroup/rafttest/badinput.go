package rafttest

import (
	"errors"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// malformed returns a copy of m broken in a way no correct peer sends, or
// false if m offers nothing to break that way. The copy never shares
// entries with m.
func (s *Simulator) malformed(m raftpb.Message) (raftpb.Message, bool) {
	switch s.rng.IntN(6) {
	case 0:
		m.Group++
	case 1:
		m.To += 1000
	case 2:
		m.Type = raftpb.MaxMessageType + 1 + raftpb.MessageType(s.rng.IntN(8))
	case 3:
		m.From = raftpb.None
	case 4:
		if m.Type != raftpb.MsgApp || len(m.Entries) == 0 {
			return m, false
		}
		m.Entries = slices.Clone(m.Entries)
		m.Entries[len(m.Entries)-1].Index += 2 // not contiguous
	default:
		switch m.Type {
		case raftpb.MsgSnap:
			m.Snapshot = nil
		case raftpb.MsgAppResp:
			m.Reject, m.RejectHint = true, m.Index+1
		default:
			return m, false
		}
	}
	return m, true
}

// stepMalformed feeds n a broken copy of m first: Step must refuse it with
// an error and leave the replica as it was (bad input is never a panic,
// never a broken invariant).
func (s *Simulator) stepMalformed(n *node, m raftpb.Message) error {
	bad, ok := s.malformed(m)
	if !ok {
		return nil
	}
	before := n.g.Status()
	err := n.g.Step(bad)
	if err == nil {
		return s.fail("n%d: Step accepted a malformed %v", n.id, bad)
	}
	if !errors.Is(err, raftgroup.ErrMalformedMessage) && !errors.Is(err, raftgroup.ErrStepLocal) {
		return s.fail("n%d: Step refused malformed %v with %v, want ErrMalformedMessage", n.id, bad, err)
	}
	after := n.g.Status()
	if before.HardState != after.HardState || before.SoftState != after.SoftState || before.LastIndex != after.LastIndex {
		return s.fail("n%d: a refused malformed %v changed the replica: %+v -> %+v", n.id, bad, before, after)
	}
	return nil
}
