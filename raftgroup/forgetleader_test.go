package raftgroup

import (
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestForgetLeaderThenCampaign: leader 1 is cut off (its node declared
// dead) and node 2 campaigns at once, with no tick at all. It wins in one
// pre-vote and one vote round if it forgot the leader (its campaign then
// tells a voter not yet told, which grants it despite the lease), and is
// refused by the voter still inside the leader's lease if it did not.
func TestForgetLeaderThenCampaign(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget []raftpb.NodeID
		wins   bool
	}{
		{"both survivors told", []raftpb.NodeID{2, 3}, true},
		{"only the candidate told", []raftpb.NodeID{2}, true},
		{"nobody told", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, 1, 2, 3)
			n.elect(1)
			n.propose(1, "a")
			n.isolate(1)
			term := n.groups[2].Term()
			for _, id := range tc.forget {
				if !n.groups[id].ForgetLeader() || n.groups[id].Leader() != raftpb.None {
					t.Fatalf("node %d did not forget its leader (follows %d)", id, n.groups[id].Leader())
				}
			}
			n.groups[2].Campaign()
			n.process()
			won := n.groups[2].Role() == Leader && n.groups[2].Term() == term+1 && n.groups[3].Leader() == 2
			if won != tc.wins {
				t.Fatalf("node 2 is %v in term %d (was %d), node 3 follows %d; want node 2 leading: %v",
					n.groups[2].Role(), n.groups[2].Term(), term, n.groups[3].Leader(), tc.wins)
			}
		})
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
