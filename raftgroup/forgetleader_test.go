package raftgroup

import (
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestForgetLeaderElectsWithoutTimeouts: when the leader's node is declared
// dead, the survivors forget it and one campaigns; it wins in one pre-vote
// and one vote round, with no tick at all.
func TestForgetLeaderElectsWithoutTimeouts(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.isolate(1)
	term := n.groups[2].Term()
	for _, id := range []raftpb.NodeID{2, 3} {
		if !n.groups[id].ForgetLeader() {
			t.Fatalf("node %d did not forget its leader", id)
		}
		if l := n.groups[id].Leader(); l != raftpb.None {
			t.Fatalf("node %d still follows %d", id, l)
		}
	}
	n.groups[2].Campaign()
	n.process()
	if n.groups[2].Role() != Leader || n.groups[2].Term() != term+1 {
		t.Fatalf("node 2 is %v in term %d, want leader in %d", n.groups[2].Role(), n.groups[2].Term(), term+1)
	}
	if n.groups[3].Leader() != 2 {
		t.Fatalf("node 3 follows %d, want 2", n.groups[3].Leader())
	}
}

// TestCampaignWithoutForgetIsRefused is the control: a voter inside the
// leader's lease refuses a plain campaign.
func TestCampaignWithoutForgetIsRefused(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.isolate(1)
	n.groups[2].Campaign()
	n.process()
	if n.groups[2].Role() == Leader {
		t.Fatal("node 2 won an election while node 3 was still in the leader's lease")
	}
	if n.groups[3].Leader() != 1 {
		t.Fatalf("node 3 follows %d, want 1", n.groups[3].Leader())
	}
}

// TestForgetLeaderCarriesTheNews: only the candidate has been told of the
// death; its campaign says so, and the voter still in the lease grants it.
func TestForgetLeaderCarriesTheNews(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.isolate(1)
	n.groups[2].ForgetLeader()
	n.groups[2].Campaign()
	n.process()
	if n.groups[2].Role() != Leader || n.groups[3].Leader() != 2 {
		t.Fatalf("node 2 is %v, node 3 follows %d; want node 2 leading", n.groups[2].Role(), n.groups[3].Leader())
	}
}

// TestLeaderDeadContextIgnoredWithLeases: a voter running lease reads does
// not let a "leader dead" campaign cut a lease short.
func TestLeaderDeadContextIgnoredWithLeases(t *testing.T) {
	st := NewMemoryStorage(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}})
	g, err := New(Config{ID: 3, Group: 7, Storage: st, Seed: 1, LeaseReads: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Step(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 7, From: 1, To: 3, Term: 1}); err != nil {
		t.Fatal(err)
	}
	g.Ready() // drop the heartbeat response
	if err := g.Step(raftpb.Message{Type: raftpb.MsgPreVote, Group: 7, From: 2, To: 3, Term: 2, Index: 100, LogTerm: 1, Context: contextLeaderDead}); err != nil {
		t.Fatal(err)
	}
	// Inside the lease the pre-vote is ignored (no answer at all).
	for _, m := range g.Ready().Messages {
		if m.Type == raftpb.MsgPreVoteResp && !m.Reject {
			t.Fatal("voter with lease reads granted a pre-vote inside its leader's lease")
		}
	}
}

// TestForgetLeaderKeepsLeases: with lease reads the lease is only ended by
// time, so ForgetLeader must leave the leader in place.
func TestForgetLeaderKeepsLeases(t *testing.T) {
	st := NewMemoryStorage(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}})
	g, err := New(Config{ID: 2, Group: 7, Storage: st, Seed: 1, LeaseReads: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Step(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 7, From: 1, To: 2, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if g.Leader() != 1 {
		t.Fatalf("leader %d, want 1", g.Leader())
	}
	if g.ForgetLeader() || g.Leader() != 1 {
		t.Fatalf("ForgetLeader with lease reads dropped the leader (now %d)", g.Leader())
	}
}

// TestForgetLeaderHeardAgain: a leader declared dead by mistake is followed
// again as soon as it is heard from.
func TestForgetLeaderHeardAgain(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.groups[3].ForgetLeader()
	n.propose(1, "b")
	if n.groups[3].Leader() != 1 {
		t.Fatalf("node 3 follows %d after hearing from 1, want 1", n.groups[3].Leader())
	}
}
