package raftgroup

import (
	"encoding/binary"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// fuzzReader turns fuzz bytes into message fields; it yields zeros once the
// input runs out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) u64(max uint64) uint64 {
	if len(r.b) == 0 {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		v, n = uint64(r.b[0]), 1
	}
	r.b = r.b[n:]
	if max == 0 {
		return v
	}
	return v % (max + 1)
}

func (r *fuzzReader) message(group raftpb.GroupID) raftpb.Message {
	m := raftpb.Message{
		Type:  raftpb.MessageType(r.u64(uint64(raftpb.MaxMessageType) + 1)),
		Group: group, From: raftpb.NodeID(r.u64(4)), To: raftpb.NodeID(r.u64(3)),
		Term: raftpb.Term(r.u64(8)), LogTerm: raftpb.Term(r.u64(8)),
		Index: raftpb.Index(r.u64(20)), Commit: raftpb.Index(r.u64(30)),
		Reject: r.u64(1) == 1, RejectHint: raftpb.Index(r.u64(20)), Context: r.u64(4),
	}
	for i, n := 0, int(r.u64(4)); i < n; i++ {
		m.Entries = append(m.Entries, raftpb.Entry{Index: raftpb.Index(r.u64(25)), Term: raftpb.Term(r.u64(8)),
			Type: raftpb.EntryType(r.u64(2)), Data: []byte{byte(r.u64(255))}})
	}
	if r.u64(3) == 1 {
		m.Snapshot = &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: raftpb.Index(r.u64(25)), Term: raftpb.Term(r.u64(8)),
			ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{raftpb.NodeID(r.u64(4)), 2}}}}
	}
	return m
}

// FuzzStep feeds arbitrary messages to every replica of a live 3-node
// group. Whatever arrives, nothing panics and the log invariants hold.
func FuzzStep(f *testing.F) {
	f.Add([]byte{1, 7, 2, 3, 3, 1, 2, 9, 0, 0, 0, 1, 3, 2, 1, 5})
	f.Add([]byte{9, 1, 2, 9, 9, 30, 1, 1, 1})
	f.Add([]byte{2, 2, 1, 4, 1, 3, 0, 1, 2, 2, 2, 2, 2, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := newNet(t, 1, 2, 3)
		n.elect(1)
		n.propose(1, "a")
		r := &fuzzReader{b: data}
		for i := 0; i < 32 && len(r.b) > 0; i++ {
			m := r.message(7)
			to := n.groups[m.To]
			if to == nil {
				continue
			}
			before := to.Status()
			_ = to.Step(m) // errors are expected; panics are not
			after := to.Status()
			if after.HardState.Term < before.HardState.Term {
				t.Fatalf("term went back from %d to %d on %v", before.HardState.Term, after.HardState.Term, m)
			}
			checkLogInvariants(t, to)
			drain(t, n)
		}
	})
}

// drain runs one Ready/Advance cycle on every replica, dropping messages,
// so the fuzzer's messages alone drive the state.
func drain(t *testing.T, n *net) {
	for id, g := range n.groups {
		if !g.HasReady() {
			continue
		}
		rd := g.Ready()
		st := n.stores[id]
		if rd.Snapshot != nil {
			_ = st.ApplySnapshot(*rd.Snapshot)
		}
		if err := st.Append(rd.Entries); err != nil {
			t.Fatalf("node %d: Ready entries do not fit the log: %v", id, err)
		}
		if !rd.HardState.IsEmpty() {
			st.SetHardState(rd.HardState)
		}
		g.Advance(rd)
		checkLogInvariants(t, g)
	}
}

func checkLogInvariants(t *testing.T, g *Group) {
	t.Helper()
	l := g.log
	if !(l.applied <= l.applying && l.applying <= l.committed && l.committed <= l.lastIndex()) {
		t.Fatalf("node %d: applied %d applying %d committed %d last %d", g.id, l.applied, l.applying, l.committed, l.lastIndex())
	}
	if l.firstIndex() > l.lastIndex()+1 {
		t.Fatalf("node %d: first %d > last %d + 1", g.id, l.firstIndex(), l.lastIndex())
	}
}
