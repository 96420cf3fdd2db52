package raftgroup

import (
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Regression tests for bugs found by the simulator (raftgroup/rafttest).
// Each names the seed that found it.

// TestFullWindowOfLostAppendsRepaired: every MsgApp filling a follower's
// in-flight window is lost (no transport report). Heartbeat answers must
// restart replication; before the fix the full window paused the follower
// forever (rafttest seed 8).
func TestFullWindowOfLostAppendsRepaired(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.groups[1].trk.progress[2].inflights.maxCount = 2
	n.cut[[2]raftpb.NodeID{1, 2}] = true
	var last raftpb.Index
	for _, d := range []string{"b", "c", "d"} {
		last = n.propose(1, d)
	}
	if pr := n.groups[1].trk.progress[2]; !pr.inflights.full() {
		t.Fatalf("window to node 2 not full: %d in flight", pr.inflights.count)
	}
	n.heal()
	n.tick(1, 3)
	if got := n.groups[2].log.lastIndex(); got != last {
		t.Fatalf("node 2 holds up to %d after heartbeats, want %d", got, last)
	}
}

// TestSnapshotWhileApplyingKeepsMembership: a follower has handed out a
// committed membership change to apply (Ready taken, Advance not yet
// called) when a snapshot from a later membership arrives. Before the fix
// the snapshot's membership was installed at once and the stale change was
// then applied on top of it at Advance, leaving the follower in a joint
// configuration nobody else had (rafttest seed 1137).
func TestSnapshotWhileApplyingKeepsMembership(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.isolate(3)
	lead, g3 := n.groups[1], n.groups[3]
	from := g3.log.lastIndex() + 1
	joint, _, err := lead.ProposeConfChange(raftpb.ConfChange{Transition: raftpb.TransitionJointExplicit,
		Changes: []raftpb.ConfChangeSingle{{Type: raftpb.AddLearner, Node: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	n.process()
	if _, _, err := lead.ProposeConfChange(raftpb.ConfChange{}); err != nil {
		t.Fatal(err)
	}
	n.propose(1, "x")
	st := n.stores[1]
	applied := lead.log.applied
	if err := st.CreateSnapshot(applied, lead.ConfState(), nil); err != nil {
		t.Fatal(err)
	}
	ents, err := st.Entries(from, joint+1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Node 3 learns the entry entering the joint configuration, committed.
	prevTerm, _ := st.Term(from - 1)
	mustStep(t, g3, raftpb.Message{Type: raftpb.MsgApp, Group: 7, From: 1, To: 3, Term: lead.Term(),
		Index: from - 1, LogTerm: prevTerm, Entries: ents, Commit: joint})
	rd := g3.Ready()
	if k := len(rd.CommittedEntries); k == 0 || rd.CommittedEntries[k-1].Index != joint {
		t.Fatalf("node 3 hands out %v to apply, want up to %d", rd.CommittedEntries, joint)
	}
	// The snapshot arrives before that Ready is applied.
	snap, _ := st.Snapshot()
	mustStep(t, g3, raftpb.Message{Type: raftpb.MsgSnap, Group: 7, From: 1, To: 3, Term: lead.Term(), Snapshot: &snap})
	n.stores[3].Append(rd.Entries)
	n.stores[3].SetHardState(rd.HardState)
	n.queue = append(n.queue, rd.Messages...)
	n.queue = append(n.queue, rd.MessagesAfterPersist...)
	g3.Advance(rd)
	n.heal()
	for i := 0; i < 3; i++ {
		n.tick(1, 1)
	}
	if got, want := g3.ConfState(), lead.ConfState(); !got.Equal(want) {
		t.Fatalf("node 3's membership is %v, the group's is %v", got, want)
	}
}

func mustStep(t *testing.T, g *Group, m raftpb.Message) {
	t.Helper()
	if err := g.Step(m); err != nil {
		t.Fatalf("step %v: %v", m, err)
	}
}
