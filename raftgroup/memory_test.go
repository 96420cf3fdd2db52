package raftgroup

import (
	"testing"
	"unsafe"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// A node hosts tens of thousands of groups, most of them idle: these
// tests pin what an idle group costs.

// TestStructSizes: Group fits Go's 480-byte size class and progress (one
// per member, in one array) 128 bytes. A field that pushes Group into the
// next class costs 32 B per group: find room (the small fields are
// together at the end), or move rarely used state behind a pointer.
func TestStructSizes(t *testing.T) {
	if got := unsafe.Sizeof(Group{}); got > 480 {
		t.Errorf("Group is %d B, above the 480 B size class", got)
	}
	if got := unsafe.Sizeof(progress{}); got > 128 {
		t.Errorf("progress is %d B, above 128 B", got)
	}
}

// TestVotesDroppedAfterElection: no replica keeps a vote map once an
// election is over (an emptied map keeps its buckets), and the next
// election still counts votes.
func TestVotesDroppedAfterElection(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	for id, g := range n.groups {
		if g.trk.votes != nil {
			t.Fatalf("node %d keeps votes %v after electing node 1", id, g.trk.votes)
		}
	}
	// A transfer makes node 2 campaign (and count votes) at once.
	if err := n.groups[1].TransferLeader(2); err != nil {
		t.Fatal(err)
	}
	n.process()
	if r := n.groups[2].Role(); r != Leader {
		t.Fatalf("node 2 is %v after the transfer, want leader", r)
	}
	for id, g := range n.groups {
		if g.trk.votes != nil {
			t.Fatalf("node %d keeps votes %v after electing node 2", id, g.trk.votes)
		}
	}
}

// TestSetConfigProgress: the tracker's progress lists every member once,
// in ID order, learners flagged; members that stay keep their progress,
// new ones probe from the given index.
func TestSetConfigProgress(t *testing.T) {
	cfg := Config{MaxInflightMsgs: 4, MaxInflightBytes: 1 << 20}
	var trk tracker
	trk.setConfig(raftpb.ConfState{Voters: []raftpb.NodeID{3, 1, 2}}, 10, &cfg, true)
	trk.get(2).match, trk.get(2).next = 7, 8
	trk.setConfig(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 4}, VotersOutgoing: []raftpb.NodeID{1, 2, 3},
		Learners: []raftpb.NodeID{5}, LearnersNext: []raftpb.NodeID{3}}, 20, &cfg, true)
	type member struct {
		id      raftpb.NodeID
		learner bool
	}
	want := []member{{1, false}, {2, false}, {3, false}, {4, false}, {5, true}}
	if len(trk.progress) != len(want) {
		t.Fatalf("%d progress entries, want %d", len(trk.progress), len(want))
	}
	for i, w := range want {
		pr := &trk.progress[i]
		if pr.id != w.id || pr.isLearner != w.learner {
			t.Errorf("entry %d: id %d learner %v, want %d %v", i, pr.id, pr.isLearner, w.id, w.learner)
		}
	}
	if pr := trk.get(2); pr.match != 7 || pr.next != 8 {
		t.Errorf("staying member 2: match %d next %d, want 7 8", pr.match, pr.next)
	}
	if pr := trk.get(4); pr.match != 0 || pr.next != 20 || pr.inflights.maxCount != 4 {
		t.Errorf("new member 4: match %d next %d window %d, want 0 20 4", pr.match, pr.next, pr.inflights.maxCount)
	}
	if trk.get(6) != nil {
		t.Error("non-member 6 has progress")
	}
	trk.setConfig(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 4}, Learners: []raftpb.NodeID{3, 5}}, 30, &cfg, true)
	if pr := trk.get(3); pr == nil || !pr.isLearner {
		t.Errorf("demoted member 3: %+v, want a learner", pr)
	}
	trk.setConfig(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 4}}, 40, &cfg, false)
	if trk.progress != nil || !trk.isVoter(4) || trk.isVoter(3) {
		t.Errorf("not tracking: progress %v, voters %v", trk.progress, trk.cs.Voters)
	}
}

// TestOnlyLeaderTracksProgress: followers keep no progress (a leader
// makes it afresh when elected) and no read queue, and a leader that steps
// down drops both.
func TestOnlyLeaderTracksProgress(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	check := func(leader raftpb.NodeID) {
		t.Helper()
		for id, g := range n.groups {
			switch {
			case id == leader && len(g.trk.progress) != 3:
				t.Fatalf("leader %d tracks %d members, want 3", id, len(g.trk.progress))
			case id != leader && g.trk.progress != nil:
				t.Fatalf("%v %d keeps progress %v", g.Role(), id, g.trk.progress)
			case id != leader && g.reads.q != nil:
				t.Fatalf("%v %d keeps a read queue %+v", g.Role(), id, *g.reads.q)
			}
		}
	}
	check(raftpb.None)
	n.elect(1)
	n.propose(1, "a")
	check(1)
	if pr := n.groups[1].trk.get(3); pr.match != n.groups[1].log.lastIndex() || pr.state != StateReplicate {
		t.Fatalf("leader's progress of 3: match %d state %v, want %d replicate", pr.match, pr.state, n.groups[1].log.lastIndex())
	}
	// A read in flight when leadership moves: answered or dropped, the
	// deposed leader keeps no queue.
	if err := n.groups[1].ReadIndex(99); err != nil {
		t.Fatal(err)
	}
	if err := n.groups[1].TransferLeader(2); err != nil {
		t.Fatal(err)
	}
	n.process()
	check(2)
	n.propose(2, "b")
	for id := raftpb.NodeID(1); id <= 3; id++ {
		if ents := n.applied[id]; len(ents) == 0 || string(ents[len(ents)-1].Data) != "b" {
			t.Fatalf("node %d did not apply the new leader's entry", id)
		}
	}
}

// TestQuiescedLeaderReleasesBuffers: a leader that served writes and a
// read keeps no read queue or in-flight ring once it quiesces, and
// serves both again afterwards.
func TestQuiescedLeaderReleasesBuffers(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	lead := n.groups[1]
	for round := 0; round < 2; round++ {
		for i := 0; i < 5; i++ {
			n.propose(1, "w")
		}
		if err := lead.ReadIndex(uint64(round + 1)); err != nil {
			t.Fatal(err)
		}
		n.tick(1, 1) // the read's heartbeat round
		for i := 0; i < 10 && !lead.Quiesced(); i++ {
			n.tick(1, 1)
		}
		if !lead.Quiesced() {
			t.Fatalf("round %d: leader did not quiesce", round)
		}
		if rs := n.reads[1]; len(rs) != round+1 {
			t.Fatalf("round %d: %d reads answered, want %d", round, len(rs), round+1)
		}
		if q := lead.reads.q; q != nil {
			t.Fatalf("round %d: quiesced leader keeps its read queue %+v", round, *q)
		}
		for i := range lead.trk.progress {
			if pr := &lead.trk.progress[i]; pr.inflights.buf != nil {
				t.Fatalf("round %d: quiesced leader keeps the in-flight ring of %d", round, pr.id)
			}
		}
	}
}
