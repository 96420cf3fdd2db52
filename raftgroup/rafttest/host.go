package rafttest

import (
	"errors"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ready takes n's Ready, checks it against the contract, sends its
// Messages at once and leaves the rest pending until the persist
// completes (a later step).
func (s *Simulator) ready(n *node) error {
	rd := n.g.Ready()
	e := event{kind: evReady, node: n.id, hs: rd.HardState}
	e.a, e.b = entrySpan(rd.Entries)
	e.c, e.d = entrySpan(rd.CommittedEntries)
	if rd.Snapshot != nil {
		e.note = "snapshot " + fmtIndexTerm(uint64(rd.Snapshot.Metadata.Index), uint64(rd.Snapshot.Metadata.Term))
	}
	s.record(e)
	if err := s.checkReady(n, &rd); err != nil {
		return err
	}
	for _, m := range rd.Messages {
		if err := s.send(m); err != nil {
			return err
		}
	}
	n.pending = &rd
	return s.serveReads(n)
}

func entrySpan(ents []raftpb.Entry) (uint64, uint64) {
	if len(ents) == 0 {
		return 0, 0
	}
	return uint64(ents[0].Index), uint64(ents[len(ents)-1].Index)
}

// persist completes n's pending Ready: makes its snapshot, entries and
// hard state durable, sends MessagesAfterPersist, applies the committed
// entries and calls Advance.
func (s *Simulator) persist(n *node) error {
	rd := n.pending
	n.pending = nil
	e := event{kind: evPersist, node: n.id, hs: rd.HardState}
	e.a, e.b = entrySpan(rd.Entries)
	e.c, e.d = entrySpan(rd.CommittedEntries)
	s.record(e)
	if rd.Snapshot != nil {
		if err := s.installSnapshot(n, rd.Snapshot); err != nil {
			return err
		}
	}
	if err := n.store.Append(rd.Entries); err != nil {
		return s.fail("n%d: persisting entries: %v", n.id, err)
	}
	if err := s.chk.register(n.id, n.unsynced); err != nil {
		return err
	}
	n.unsynced = nil
	if !rd.HardState.IsEmpty() {
		n.store.SetHardState(rd.HardState)
		if rd.HardState.Vote != raftpb.None {
			if err := s.chk.vote(n.id, rd.HardState.Term, rd.HardState.Vote); err != nil {
				return err
			}
		}
	}
	for _, m := range rd.MessagesAfterPersist {
		if err := s.send(m); err != nil {
			return err
		}
	}
	if err := s.apply(n, rd.CommittedEntries); err != nil {
		return err
	}
	n.g.Advance(*rd)
	if err := s.checkMembership(n); err != nil {
		return err
	}
	return s.serveReads(n)
}

// checkMembership: after Advance the core's membership is the state
// machine's, unless the core holds a snapshot not handed out yet (its
// first index is then past the durable log's).
func (s *Simulator) checkMembership(n *node) error {
	st := n.g.Status()
	if first, _ := n.store.FirstIndex(); st.FirstIndex != first {
		return nil
	}
	if !st.Config.Equal(n.sm.live.cs) {
		return s.fail("n%d: after Advance the core's membership is %v, the state machine applied %v", n.id, st.Config, n.sm.live.cs)
	}
	return nil
}

// installSnapshot puts a snapshot into the durable log and the state
// machine (durably: a real store syncs an installed snapshot).
func (s *Simulator) installSnapshot(n *node, snap *raftpb.Snapshot) error {
	if err := n.store.ApplySnapshot(*snap); err != nil {
		return s.fail("n%d: installing snapshot %d: %v", n.id, snap.Metadata.Index, err)
	}
	if err := n.sm.install(snap); err != nil {
		return s.fail("n%d: %v", n.id, err)
	}
	s.stats.Snapshots++
	return s.chk.snapshot(n.id, snap, n.sm.live.kv, s.keys)
}

// apply applies committed entries to n's state machine, checking each
// against the committed history, and sometimes makes the result durable.
func (s *Simulator) apply(n *node, ents []raftpb.Entry) error {
	for i := range ents {
		e := &ents[i]
		if e.Index != n.sm.live.applied+1 {
			return s.fail("n%d: applying %d after %d", n.id, e.Index, n.sm.live.applied)
		}
		se, ok := n.log.at(e.Index)
		if !ok || se.term != e.Term {
			return s.fail("n%d: committed entry %d/t%d is not in its log", n.id, e.Index, e.Term)
		}
		if err := s.chk.applied(n.id, e, se.chain); err != nil {
			return err
		}
		n.sm.apply(e)
		if e.Type == raftpb.EntryConfChange {
			if err := s.chk.appliedConf(n.id, e.Index, n.sm.live.cs); err != nil {
				return err
			}
		}
	}
	if len(ents) > 0 && s.rng.Float64() < s.cfg.SyncApplyRate {
		n.sm.sync()
	}
	return nil
}

// send hands m to the network; a snapshot that is lost is reported to the
// leader as failed, as a transport would.
func (s *Simulator) send(m raftpb.Message) error {
	if err := s.chk.sent(&m); err != nil {
		return err
	}
	if s.net.send(m, s.now) {
		return nil
	}
	s.record(event{kind: evDrop, msg: m, note: "dropped"})
	s.reportLost(m)
	return nil
}

func (s *Simulator) reportLost(m raftpb.Message) {
	from := s.nodes[m.From]
	if !from.up() {
		return
	}
	switch m.Type {
	case raftpb.MsgSnap:
		from.g.ReportSnapshot(m.To, true)
	case raftpb.MsgApp:
		if s.rng.IntN(2) == 0 {
			from.g.ReportUnreachable(m.To)
		}
	}
}

// deliverOne delivers a random deliverable message.
func (s *Simulator) deliverOne() error {
	m, ok := s.net.take(s.now)
	if !ok {
		return nil
	}
	to := s.nodes[m.To]
	if !to.up() || s.net.blocked(m.From, m.To) {
		s.record(event{kind: evDrop, msg: m, note: "unreachable"})
		s.reportLost(m)
		return nil
	}
	s.net.delivered++
	s.record(event{kind: evDeliver, msg: m})
	if s.cfg.MalformedRate > 0 && s.rng.Float64() < s.cfg.MalformedRate {
		if err := s.stepMalformed(to, m); err != nil {
			return err
		}
	}
	if err := to.g.Step(m); err != nil && !errors.Is(err, raftgroup.ErrStepLocal) {
		return s.fail("n%d: Step(%v) from a correct peer failed: %v", to.id, m, err)
	}
	if m.Type == raftpb.MsgSnap && s.nodes[m.From].up() {
		s.nodes[m.From].g.ReportSnapshot(m.To, false)
	}
	return nil
}
