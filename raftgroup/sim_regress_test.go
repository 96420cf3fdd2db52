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
	n.groups[1].trk.get(2).inflights.maxCount = 2
	n.cut[[2]raftpb.NodeID{1, 2}] = true
	var last raftpb.Index
	for _, d := range []string{"b", "c", "d"} {
		last = n.propose(1, d)
	}
	if pr := n.groups[1].trk.get(2); !pr.inflights.full() {
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

// readyOnce handles one node's Ready as process does, but returns its
// messages instead of delivering them.
func (n *net) readyOnce(id raftpb.NodeID) []raftpb.Message {
	g, st := n.groups[id], n.stores[id]
	if !g.HasReady() {
		return nil
	}
	rd := g.Ready()
	if err := st.Append(rd.Entries); err != nil {
		n.t.Fatal(err)
	}
	if !rd.HardState.IsEmpty() {
		st.SetHardState(rd.HardState)
	}
	n.applied[id] = append(n.applied[id], rd.CommittedEntries...)
	g.Advance(rd)
	return append(rd.Messages, rd.MessagesAfterPersist...)
}

// TestSoleVoterLearnsCommitFromRefusals: the joint configuration
// [2]&&[1 2 3] is left; node 2, the only voter left, acknowledged the
// leaving entry but then heard nothing more, while the leader (node 1)
// appended one more entry that only node 3 got, applied its removal and
// stepped down. Node 2, still joint as it never learned the commit, could
// not win the votes of nodes whose logs were longer, and nobody else may
// campaign: no leader ever again (rafttest seeds 275 and 1458 with lease
// reads on). Refusals now carry the voter's commit index.
func TestSoleVoterLearnsCommitFromRefusals(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	g1 := n.groups[1]
	cc := raftpb.ConfChange{Transition: raftpb.TransitionJointExplicit,
		Changes: []raftpb.ConfChangeSingle{{Type: raftpb.RemoveNode, Node: 1}, {Type: raftpb.RemoveNode, Node: 3}}}
	if _, _, err := g1.ProposeConfChange(cc); err != nil {
		t.Fatal(err)
	}
	n.process()
	if _, _, err := g1.ProposeConfChange(raftpb.ConfChange{}); err != nil {
		t.Fatal(err)
	}
	var acks []raftpb.Message
	for _, m := range n.readyOnce(1) {
		mustStep(t, n.groups[m.To], m)
	}
	acks = append(n.readyOnce(2), n.readyOnce(3)...)
	n.cut[[2]raftpb.NodeID{1, 2}] = true
	for _, m := range acks {
		mustStep(t, g1, m)
	}
	if _, _, err := g1.Propose([]byte("x")); err != nil {
		t.Fatal(err)
	}
	n.process()
	n.heal()
	et := g1.cfg.ElectionTicks
	for i := 0; i < 10*et && n.groups[2].Role() != Leader; i++ {
		for id := raftpb.NodeID(1); id <= 3; id++ {
			n.tick(id, 1)
		}
	}
	if r := n.groups[2].Role(); r != Leader {
		t.Fatalf("node 2, the only voter, is %v after %d election timeouts; status %+v", r, 10, n.groups[2].Status())
	}
}

// TestRemovedCandidateDoesNotWin: a candidate learns from a refusal that
// its own removal is committed, applies it, and then collects grants from
// a majority of the new voters. Before the fix it became a leader outside
// the configuration, which takes no proposals and keeps everyone else
// from campaigning (rafttest seeds 2665 and 2914 with lease reads on).
func TestRemovedCandidateDoesNotWin(t *testing.T) {
	st := NewMemoryStorage(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3, 4, 5}})
	rm := raftpb.ConfChange{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.RemoveNode, Node: 5}}}
	if err := st.Append([]raftpb.Entry{{Index: 2, Term: 1, Type: raftpb.EntryConfChange, Data: rm.Marshal()}}); err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{ID: 5, Group: 7, Storage: st, DisablePreVote: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	advance := func() {
		rd := g.Ready()
		if err := st.Append(rd.Entries); err != nil {
			t.Fatal(err)
		}
		if !rd.HardState.IsEmpty() {
			st.SetHardState(rd.HardState)
		}
		g.Advance(rd)
	}
	g.Campaign()
	advance()
	term := g.Term()
	mustStep(t, g, raftpb.Message{Type: raftpb.MsgVoteResp, Group: 7, From: 1, To: 5, Term: term, Reject: true, Index: 2, LogTerm: 1})
	advance() // applies its own removal
	if g.ConfState().Voters[len(g.ConfState().Voters)-1] == 5 {
		t.Fatalf("removal not applied: %v", g.ConfState())
	}
	for _, from := range []raftpb.NodeID{2, 3, 4} {
		mustStep(t, g, raftpb.Message{Type: raftpb.MsgVoteResp, Group: 7, From: from, To: 5, Term: term})
	}
	if g.Role() == Leader {
		t.Fatalf("node 5 leads a configuration %v it is not in", g.ConfState())
	}
}

// TestSoleVoterLeaderWaitsForDurableTerm: a sole voter wins its election
// inside Campaign, with no vote round trip to wait for the new term to be
// durable. Before the fix its MsgApps to a learner left at once; after a
// crash that lost the term it led the same term again with a different
// entry at the same index, and the learner kept the first one: two logs
// with the same (index, term) and different entries.
func TestSoleVoterLeaderWaitsForDurableTerm(t *testing.T) {
	cs := raftpb.ConfState{Voters: []raftpb.NodeID{1}, Learners: []raftpb.NodeID{2}}
	st1, st2 := NewMemoryStorage(cs), NewMemoryStorage(cs)
	newGroup := func(id raftpb.NodeID, st *MemoryStorage) *Group {
		g, err := New(Config{ID: id, Group: 7, Storage: st, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g1, g2 := newGroup(1, st1), newGroup(2, st2)
	g1.Campaign()
	idx, term, err := g1.Propose([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	rd := g1.Ready()
	for _, m := range rd.Messages { // sent before the persist
		mustStep(t, g2, m)
	}
	g1 = newGroup(1, st1) // crash: nothing of rd was persisted
	g1.Campaign()
	if _, _, err := g1.Propose([]byte("y")); err != nil {
		t.Fatal(err)
	}
	pump(t, map[raftpb.NodeID]*Group{1: g1, 2: g2}, map[raftpb.NodeID]*MemoryStorage{1: st1, 2: st2})
	e1, _ := st1.Entries(idx, idx+1, 1<<20)
	e2, _ := st2.Entries(idx, idx+1, 1<<20)
	if len(e1) != 1 || len(e2) != 1 || e1[0].Term != term || e2[0].Term != term || string(e1[0].Data) != string(e2[0].Data) {
		t.Fatalf("at index %d, term %d: leader holds %v, learner holds %v", idx, term, e1, e2)
	}
}

// pump persists every Ready and delivers every message until quiet.
func pump(t *testing.T, groups map[raftpb.NodeID]*Group, stores map[raftpb.NodeID]*MemoryStorage) {
	t.Helper()
	for round := 0; round < 100; round++ {
		var msgs []raftpb.Message
		for id := raftpb.NodeID(1); int(id) <= len(groups); id++ {
			g := groups[id]
			if !g.HasReady() {
				continue
			}
			rd := g.Ready()
			if err := stores[id].Append(rd.Entries); err != nil {
				t.Fatal(err)
			}
			if !rd.HardState.IsEmpty() {
				stores[id].SetHardState(rd.HardState)
			}
			msgs = append(append(msgs, rd.Messages...), rd.MessagesAfterPersist...)
			g.Advance(rd)
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			mustStep(t, groups[m.To], m)
		}
	}
	t.Fatal("did not settle")
}

// TestNoLeaseReadAfterTimeoutNow: once a leader has told another voter to
// campaign at once, that voter may win past every lease; a lease read at
// the old leader, cut off from the new one, returned state older than a
// write the new leader had already applied.
func TestNoLeaseReadAfterTimeoutNow(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	for _, g := range n.groups {
		g.cfg.LeaseReads = true
	}
	n.elect(1)
	n.propose(1, "a")
	g1 := n.groups[1]
	if err := g1.TransferLeader(2); err != nil {
		t.Fatal(err)
	}
	n.cut[[2]raftpb.NodeID{2, 1}] = true
	n.cut[[2]raftpb.NodeID{3, 1}] = true
	n.process()
	if n.groups[2].Role() != Leader {
		t.Fatalf("transfer target is %v", n.groups[2].Role())
	}
	b := n.propose(2, "b")
	if g1.Role() != Leader {
		t.Skip("old leader already stepped down; the scenario needs it to lag")
	}
	if err := g1.ReadIndex(77); err != nil {
		t.Fatal(err)
	}
	n.process()
	for _, rs := range n.reads[1] {
		if rs.ID == 77 && rs.Index < b {
			t.Fatalf("old leader confirmed a read at %d after the new leader applied a write at %d", rs.Index, b)
		}
	}
}

// TestSetConfStateKeepsSnapshotMetadata: a restarted replica records the
// membership as of its applied index with SetConfState. Before the fix
// that overwrote the stored snapshot's membership, so a snapshot at an
// older index went out with a newer membership and its receiver applied
// the membership changes in between a second time (rafttest seeds 262,
// 292 and 382 once the simulator sent stored snapshots).
func TestSetConfStateKeepsSnapshotMetadata(t *testing.T) {
	old := raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}}
	st := NewMemoryStorage(old)
	if err := st.Append([]raftpb.Entry{{Index: 2, Term: 1}, {Index: 3, Term: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSnapshot(2, old, nil); err != nil {
		t.Fatal(err)
	}
	later := raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}, Learners: []raftpb.NodeID{4}}
	st.SetConfState(later) // membership as of index 3
	if _, cs, _ := st.InitialState(); !cs.Equal(later) {
		t.Fatalf("InitialState membership %v, want %v", cs, later)
	}
	snap, _ := st.Snapshot()
	if md := snap.Metadata; md.Index != 2 || !md.ConfState.Equal(old) {
		t.Fatalf("snapshot %d carries membership %v, want %v as of index 2", md.Index, md.ConfState, old)
	}
}
