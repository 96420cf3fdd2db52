package raftgroup

import (
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// net is a minimal in-memory cluster for unit tests: it delivers every
// message at once unless a link is cut. The seeded simulator with faults is
// raftgroup/rafttest.
type net struct {
	t       *testing.T
	groups  map[raftpb.NodeID]*Group
	stores  map[raftpb.NodeID]*MemoryStorage
	applied map[raftpb.NodeID][]raftpb.Entry
	reads   map[raftpb.NodeID][]ReadState
	cut     map[[2]raftpb.NodeID]bool
	queue   []raftpb.Message
}

func newNet(t *testing.T, ids ...raftpb.NodeID) *net {
	t.Helper()
	n := &net{t: t, groups: map[raftpb.NodeID]*Group{}, stores: map[raftpb.NodeID]*MemoryStorage{},
		applied: map[raftpb.NodeID][]raftpb.Entry{}, reads: map[raftpb.NodeID][]ReadState{}, cut: map[[2]raftpb.NodeID]bool{}}
	for _, id := range ids {
		n.stores[id] = NewMemoryStorage(raftpb.ConfState{Voters: ids})
		g, err := New(Config{ID: id, Group: 7, Storage: n.stores[id], Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		n.groups[id] = g
	}
	return n
}

// process handles every ready group and delivers messages until quiet.
func (n *net) process() {
	for round := 0; round < 1000; round++ {
		busy := false
		for id := raftpb.NodeID(1); id <= raftpb.NodeID(len(n.groups)+8); id++ {
			g := n.groups[id]
			if g == nil || !g.HasReady() {
				continue
			}
			busy = true
			rd := g.Ready()
			st := n.stores[id]
			if rd.Snapshot != nil {
				if err := st.ApplySnapshot(*rd.Snapshot); err != nil {
					n.t.Fatal(err)
				}
			}
			if err := st.Append(rd.Entries); err != nil {
				n.t.Fatal(err)
			}
			if !rd.HardState.IsEmpty() {
				st.SetHardState(rd.HardState)
			}
			n.queue = append(n.queue, rd.Messages...)
			n.queue = append(n.queue, rd.MessagesAfterPersist...)
			n.applied[id] = append(n.applied[id], rd.CommittedEntries...)
			n.reads[id] = append(n.reads[id], rd.ReadStates...)
			g.Advance(rd)
		}
		msgs := n.queue
		n.queue = nil
		for _, m := range msgs {
			busy = true
			if n.cut[[2]raftpb.NodeID{m.From, m.To}] || n.groups[m.To] == nil {
				continue
			}
			if err := n.groups[m.To].Step(m); err != nil {
				n.t.Fatalf("step %v: %v", m, err)
			}
		}
		if !busy {
			return
		}
	}
	n.t.Fatal("network did not settle")
}

func (n *net) tick(id raftpb.NodeID, ticks int) {
	for i := 0; i < ticks; i++ {
		n.groups[id].Tick()
		n.process()
	}
}

func (n *net) isolate(id raftpb.NodeID) {
	for other := range n.groups {
		if other != id {
			n.cut[[2]raftpb.NodeID{id, other}] = true
			n.cut[[2]raftpb.NodeID{other, id}] = true
		}
	}
}

func (n *net) heal() { clear(n.cut) }

func (n *net) elect(id raftpb.NodeID) {
	n.t.Helper()
	n.groups[id].Campaign()
	n.process()
	if r := n.groups[id].Role(); r != Leader {
		n.t.Fatalf("node %d is %v after campaign, want leader", id, r)
	}
}

func (n *net) propose(id raftpb.NodeID, data string) raftpb.Index {
	n.t.Helper()
	idx, _, err := n.groups[id].Propose([]byte(data))
	if err != nil {
		n.t.Fatalf("propose at %d: %v", id, err)
	}
	n.process()
	return idx
}

func TestElectAndReplicate(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	idx := n.propose(1, "hello")
	for id := raftpb.NodeID(1); id <= 3; id++ {
		ents := n.applied[id]
		if len(ents) == 0 || ents[len(ents)-1].Index != idx || string(ents[len(ents)-1].Data) != "hello" {
			t.Fatalf("node %d applied %v, want hello at %d", id, ents, idx)
		}
	}
}
