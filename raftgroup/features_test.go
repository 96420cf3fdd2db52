package raftgroup

import (
	"errors"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func TestPreVotePreventsDisruption(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	term := n.groups[1].Term()
	n.isolate(3)
	// Node 3 times out many times while cut off; with pre-vote its term
	// must not move.
	for i := 0; i < 5; i++ {
		n.tick(3, 2*n.groups[3].cfg.ElectionTicks)
	}
	if got := n.groups[3].Term(); got != term {
		t.Fatalf("isolated node raised its term to %d (was %d)", got, term)
	}
	n.heal()
	n.tick(1, 1)
	n.tick(3, 1)
	if n.groups[1].Role() != Leader || n.groups[1].Term() != term {
		t.Fatalf("leader disrupted: node 1 is %v in term %d, want leader in %d", n.groups[1].Role(), n.groups[1].Term(), term)
	}
	if n.groups[3].Leader() != 1 {
		t.Fatalf("node 3 follows %d, want 1", n.groups[3].Leader())
	}
}

func TestCheckQuorumStepDown(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.isolate(1)
	// A proposal the followers never see keeps the leader from quiescing
	// (a quiet leader does not tick, so it checks no quorum).
	if _, _, err := n.groups[1].Propose([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	n.process()
	et := n.groups[1].cfg.ElectionTicks
	for i := 0; i < 2*et && n.groups[1].Role() == Leader; i++ {
		n.tick(1, 1)
	}
	if n.groups[1].Role() == Leader {
		t.Fatalf("leader without quorum still leads after %d ticks", 2*et)
	}
}

func TestReadIndexBatchedInOneRound(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	g := n.groups[1]
	for id := uint64(1); id <= 50; id++ {
		if err := g.ReadIndex(id); err != nil {
			t.Fatal(err)
		}
	}
	rd := g.Ready()
	beats := 0
	for _, m := range rd.Messages {
		if m.Type == raftpb.MsgHeartbeat {
			beats++
		}
	}
	if beats != 2 {
		t.Fatalf("50 reads sent %d heartbeats, want one round (2 followers)", beats)
	}
	n.queue = append(n.queue, rd.Messages...)
	g.Advance(rd)
	n.process()
	if len(n.reads[1]) != 50 {
		t.Fatalf("confirmed %d reads, want 50", len(n.reads[1]))
	}
	if err := n.groups[2].ReadIndex(99); !errors.As(err, new(*NotLeaderError)) {
		t.Fatalf("read at follower: err = %v, want NotLeaderError", err)
	}
}

func TestReadIndexNeedsQuorum(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.isolate(1)
	if err := n.groups[1].ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	n.process()
	if len(n.reads[1]) != 0 {
		t.Fatalf("read confirmed without a quorum: %v", n.reads[1])
	}
	n.heal()
	n.tick(1, 1)
	if len(n.reads[1]) != 1 {
		t.Fatalf("read not confirmed after heal: %v", n.reads[1])
	}
}

func TestTransferLeader(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.cut[[2]raftpb.NodeID{1, 3}] = true
	n.propose(1, "x") // node 3 falls behind
	delete(n.cut, [2]raftpb.NodeID{1, 3})
	if err := n.groups[1].TransferLeader(3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.groups[1].Propose([]byte("y")); !errors.Is(err, ErrTransferInProgress) && n.groups[1].Role() == Leader {
		t.Fatalf("proposal during transfer: err = %v", err)
	}
	n.process()
	if n.groups[3].Role() != Leader {
		t.Fatalf("node 3 is %v after transfer, want leader", n.groups[3].Role())
	}
}

func TestJointConsensusReplaceVoter(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	// Node 4 starts empty and is added, then 1 is swapped out for it.
	n.stores[4] = NewMemoryStorage(raftpb.ConfState{})
	g4, err := New(Config{ID: 4, Group: 7, Storage: n.stores[4]})
	if err != nil {
		t.Fatal(err)
	}
	n.groups[4] = g4
	cc := raftpb.ConfChange{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.AddVoter, Node: 4}, {Type: raftpb.RemoveNode, Node: 1}}}
	if _, _, err := n.groups[1].ProposeConfChange(cc); err != nil {
		t.Fatal(err)
	}
	n.process()
	for i := 0; i < 40 && !(n.groups[2].Leader() != 1 && n.groups[2].Leader() != raftpb.None); i++ {
		n.tick(2, 1)
		n.tick(3, 1)
		n.tick(4, 1)
	}
	cs := n.groups[2].ConfState()
	if cs.Joint() || !cs.Equal(raftpb.ConfState{Voters: []raftpb.NodeID{2, 3, 4}}) {
		t.Fatalf("config %v, want voters 2,3,4 and not joint", cs)
	}
	lead := n.groups[2].Leader()
	if lead == 1 || lead == raftpb.None || n.groups[lead].Role() != Leader {
		t.Fatalf("no leader among the new voters (node 2 follows %d)", lead)
	}
}

func TestSnapshotCatchUp(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.isolate(3)
	var last raftpb.Index
	for i := 0; i < 10; i++ {
		last = n.propose(1, "v")
	}
	st := n.stores[1]
	if err := st.CreateSnapshot(last, n.groups[1].ConfState(), []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(last); err != nil {
		t.Fatal(err)
	}
	n.heal()
	n.tick(1, 1)
	n.process()
	snap, _ := n.stores[3].Snapshot()
	if snap.Metadata.Index != last || string(snap.Data) != "state" {
		t.Fatalf("node 3 snapshot at %d (%q), want %d", snap.Metadata.Index, snap.Data, last)
	}
	next := n.propose(1, "after")
	if got := n.applied[3]; len(got) == 0 || got[len(got)-1].Index != next {
		t.Fatalf("node 3 did not apply %d after the snapshot: %v", next, got)
	}
}

func TestQuiescence(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.tick(1, 1)
	for id := raftpb.NodeID(1); id <= 3; id++ {
		if !n.groups[id].Quiesced() {
			t.Fatalf("node %d not quiesced after an idle heartbeat", id)
		}
	}
	// A quiet group produces nothing, however long it is ticked.
	for id := raftpb.NodeID(1); id <= 3; id++ {
		for i := 0; i < 100; i++ {
			n.groups[id].Tick()
		}
		if n.groups[id].HasReady() {
			t.Fatalf("quiesced node %d has work after ticks", id)
		}
	}
	n.propose(1, "b")
	if n.groups[1].Quiesced() || n.groups[2].Quiesced() {
		t.Fatal("a proposal did not wake the group")
	}
	n.tick(1, 1)
	// The leader's node dies: its followers are woken and elect a new one.
	n.isolate(1)
	n.groups[2].Wake()
	n.groups[3].Wake()
	for i := 0; i < 40 && n.groups[2].Role() != Leader && n.groups[3].Role() != Leader; i++ {
		n.tick(2, 1)
		n.tick(3, 1)
	}
	if n.groups[2].Role() != Leader && n.groups[3].Role() != Leader {
		t.Fatal("woken followers did not elect a new leader")
	}
}

func TestMalformedMessagesRejected(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	g := n.groups[2]
	term := g.Term()
	bad := []raftpb.Message{
		{Type: 99, Group: 7, From: 1, To: 2, Term: term},
		{Type: raftpb.MsgApp, Group: 8, From: 1, To: 2, Term: term},
		{Type: raftpb.MsgApp, Group: 7, From: 1, To: 3, Term: term},
		{Type: raftpb.MsgApp, Group: 7, From: 1, To: 2, Term: term, Index: 2, Entries: []raftpb.Entry{{Index: 5, Term: term}}},
		{Type: raftpb.MsgApp, Group: 7, From: 1, To: 2, Term: term, Index: 2, Entries: []raftpb.Entry{{Index: 3, Term: term + 1}}},
		{Type: raftpb.MsgSnap, Group: 7, From: 1, To: 2, Term: term},
		{Type: raftpb.MsgAppResp, Group: 7, From: 2, To: 1, Term: term, Reject: true, Index: 1, RejectHint: 5},
	}
	for _, m := range bad {
		if err := g.Step(m); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("%v: err = %v, want ErrMalformedMessage", m, err)
		}
	}
	if err := g.Step(raftpb.Message{Type: raftpb.MsgApp, Group: 7, From: 2, To: 2, Term: term}); !errors.Is(err, ErrStepLocal) {
		t.Errorf("message from self: err = %v", err)
	}
	// A stale term is ignored, not an error.
	if err := g.Step(raftpb.Message{Type: raftpb.MsgVote, Group: 7, From: 3, To: 2, Term: term - 1}); err != nil {
		t.Errorf("stale vote: err = %v", err)
	}
	if g.Term() != term {
		t.Fatalf("term moved to %d", g.Term())
	}
}

func TestProposeConfChangeValidation(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	g := n.groups[1]
	_, _, err := g.ProposeConfChange(raftpb.ConfChange{}) // leave-joint while not joint
	if !errors.Is(err, ErrInvalidConfChange) {
		t.Fatalf("err = %v, want ErrInvalidConfChange", err)
	}
	rm := raftpb.ConfChange{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.RemoveNode, Node: 1}, {Type: raftpb.RemoveNode, Node: 2}, {Type: raftpb.RemoveNode, Node: 3}}}
	if _, _, err := g.ProposeConfChange(rm); !errors.Is(err, ErrInvalidConfChange) {
		t.Fatalf("removing every voter: err = %v", err)
	}
	add := raftpb.ConfChange{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.AddLearner, Node: 9}}}
	if _, _, err := g.ProposeConfChange(add); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.ProposeConfChange(add); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("second pending change: err = %v", err)
	}
}

func TestLeaseReads(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	for _, g := range n.groups {
		g.cfg.LeaseReads = true
	}
	n.elect(1)
	// A new leader's first read is confirmed by a heartbeat round; that
	// round starts its lease.
	if err := n.groups[1].ReadIndex(10); err != nil {
		t.Fatal(err)
	}
	n.process()
	if got := n.reads[1]; len(got) != 1 {
		t.Fatalf("first read of the term: got %v, want it confirmed by a round", got)
	}
	n.reads[1] = nil
	if err := n.groups[1].ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	rd := n.groups[1].Ready()
	if len(rd.ReadStates) != 1 {
		t.Fatalf("lease read not served at once: %+v", rd)
	}
	for _, m := range rd.Messages {
		if m.Type == raftpb.MsgHeartbeat {
			t.Fatalf("lease read sent a heartbeat round: %v", m)
		}
	}
	n.groups[1].Advance(rd)
	n.process()
	// Quiesce, then partition the leader away while it is quiet: once
	// woken, it must not trust its lease until a quorum answers.
	n.tick(1, 1)
	if !n.groups[1].Quiesced() {
		t.Fatal("leader did not quiesce")
	}
	n.isolate(1)
	if err := n.groups[1].ReadIndex(2); err != nil {
		t.Fatal(err)
	}
	n.process()
	if got := n.reads[1]; len(got) != 0 {
		t.Fatalf("a woken, partitioned leader served a lease read: %v", got)
	}
	n.heal()
	n.tick(1, 1)
	if got := n.reads[1]; len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("read not served after the quorum answered: %v", got)
	}
}

func TestReadIndexQuorumIgnoresLease(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	for _, g := range n.groups {
		g.cfg.LeaseReads = true
	}
	n.elect(1)
	if err := n.groups[1].ReadIndexQuorum(5); err != nil {
		t.Fatal(err)
	}
	rd := n.groups[1].Ready()
	if len(rd.ReadStates) != 0 {
		t.Fatalf("quorum read answered from the lease: %v", rd.ReadStates)
	}
	n.queue = append(n.queue, rd.Messages...)
	n.groups[1].Advance(rd)
	n.process()
	if got := n.reads[1]; len(got) != 1 || got[0].ID != 5 {
		t.Fatalf("quorum read not confirmed by the heartbeat round: %v", got)
	}
}

// TestLeaseCountsFromRoundStart: answers to a heartbeat round that the
// leader handles late (they sat in its socket while its process was
// stopped, or in a slow queue) give it a lease that ends a lease length
// after the round started, not after the answers were handled. A lease read
// past that end goes through a heartbeat round; the same answers handled in
// time serve it at once.
func TestLeaseCountsFromRoundStart(t *testing.T) {
	lease := 10 - leaseMargin(10) // the default ElectionTicks
	if !leaseReadAfterLateAnswers(t, 1) {
		t.Fatal("answers handled one tick after their round: the lease read was not served at once")
	}
	if leaseReadAfterLateAnswers(t, lease) {
		t.Fatalf("answers handled %d ticks after their round: the lease read was served at once", lease)
	}
}

// leaseReadAfterLateAnswers runs one heartbeat round whose answers the
// leader handles late ticks after it started, then reports whether a lease
// read is served at once.
func leaseReadAfterLateAnswers(t *testing.T, late int) bool {
	n := newNet(t, 1, 2, 3)
	for _, g := range n.groups {
		g.cfg.LeaseReads = true
		g.cfg.DisableQuiesce = true
	}
	n.elect(1)
	leader := n.groups[1]
	if err := leader.ReadIndexQuorum(50); err != nil { // a heartbeat round
		t.Fatal(err)
	}
	rd := leader.Ready()
	leader.Advance(rd)
	var answers []raftpb.Message
	for _, m := range rd.Messages {
		if m.Type != raftpb.MsgHeartbeat {
			continue
		}
		f := n.groups[m.To]
		if err := f.Step(m); err != nil {
			t.Fatal(err)
		}
		frd := f.Ready()
		answers = append(answers, frd.Messages...)
		f.Advance(frd)
	}
	if len(answers) != 2 {
		t.Fatalf("followers answered %v, want two heartbeat answers", answers)
	}
	for range late {
		leader.Tick()
		leader.Advance(leader.Ready()) // its messages are lost
	}
	if leader.Role() != Leader {
		t.Fatalf("leader stepped down after %d silent ticks", late)
	}
	for _, m := range answers {
		if err := leader.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := leader.ReadIndex(99); err != nil {
		t.Fatal(err)
	}
	rd = leader.Ready()
	leader.Advance(rd)
	for _, rs := range rd.ReadStates {
		if rs.ID == 99 {
			return true
		}
	}
	return false
}
