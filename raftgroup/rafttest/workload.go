package rafttest

import (
	"fmt"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// client picks the replica a client request goes to: usually one that
// believes it leads (a deposed leader that has not noticed included, as a
// client with a stale view would), sometimes any up replica (which must
// refuse cleanly).
func (s *Simulator) client() *node {
	if s.rng.IntN(8) != 0 {
		if l := s.pick(func(n *node) bool { return n.up() && n.g.Role() == raftgroup.Leader }); l != nil {
			return l
		}
	}
	return s.pick(func(n *node) bool { return n.up() })
}

// propose writes a fresh value to a random key.
func (s *Simulator) propose() error {
	n := s.client()
	if n == nil {
		return nil
	}
	s.nextValue++
	key := s.keys[s.rng.IntN(len(s.keys))]
	data := writeData(key, fmt.Sprintf("v%d", s.nextValue))
	idx, term, err := n.g.Propose(data)
	e := event{kind: evPropose, node: n.id, a: uint64(idx), b: uint64(term), note: string(data)}
	if err != nil {
		e.a = 0
	}
	s.record(e)
	return nil
}

// read starts a linearizable read of a random key, noting what it must
// observe: everything applied anywhere before it began.
func (s *Simulator) read() error {
	n := s.client()
	if n == nil {
		return nil
	}
	s.nextRead++
	id := s.nextRead
	key := s.keys[s.rng.IntN(len(s.keys))]
	read, note := n.g.ReadIndex, key
	if s.cfg.LeaseReads && s.rng.IntN(4) == 0 {
		read, note = n.g.ReadIndexQuorum, key+" (quorum)"
	}
	err := read(id)
	if err != nil {
		note += " refused"
	}
	s.record(event{kind: evRead, node: n.id, a: id, note: note})
	if err != nil {
		return nil
	}
	s.reads[id] = &readReq{node: n.id, key: key, floor: s.chk.lastCommitted(), keyFloor: s.chk.lastWrite(key)}
	n.asked = append(n.asked, id)
	return nil
}

// transfer asks the leader to hand over to a random member.
func (s *Simulator) transfer() error {
	l := s.leader()
	if l == nil {
		return nil
	}
	cs := l.g.ConfState()
	ids := append(slices.Clone(cs.Voters), cs.Learners...)
	to := ids[s.rng.IntN(len(ids))]
	err := l.g.TransferLeader(to)
	note := "ok"
	if err != nil {
		note = err.Error()
	}
	s.record(event{kind: evTransfer, node: l.id, a: uint64(to), note: note})
	if err == nil && s.cfg.PartitionWeight > 0 && s.rng.IntN(3) == 0 {
		// Nemesis: the old leader stops hearing anyone just as it hands
		// over, so it learns late that it was deposed.
		for y := range s.net.cut {
			s.net.cut[y][l.id] = true
		}
		s.record(event{kind: evPartition, note: fmt.Sprintf("cut every link into n%d", l.id)})
	}
	return nil
}

// compact takes a snapshot of a replica's durable state machine and
// compacts its log up to (or a little below) it, as a store does once
// the applied state is durable.
func (s *Simulator) compact() error {
	n := s.pick(func(n *node) bool { return n.up() })
	if n == nil {
		return nil
	}
	snap, _ := n.store.Snapshot()
	d := n.sm.durable
	if d.applied <= snap.Metadata.Index {
		return nil
	}
	if err := n.store.CreateSnapshot(d.applied, d.cs, encodeKV(d.kv)); err != nil {
		return s.fail("n%d: snapshot at durable applied %d: %v", n.id, d.applied, err)
	}
	first, _ := n.store.FirstIndex()
	to := d.applied - min(d.applied, raftpb.Index(s.rng.IntN(4)))
	if to >= first {
		if err := n.store.Compact(to); err != nil {
			return s.fail("n%d: compact to %d: %v", n.id, to, err)
		}
	}
	s.record(event{kind: evCompact, node: n.id, a: uint64(d.applied), b: uint64(to)})
	return nil
}
