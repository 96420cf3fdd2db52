package shard

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// A node hosts tens of thousands of replicas, most of them idle: these
// tests pin what an idle replica costs (issue 5's goal: under 4 KiB each).

// TestReplicaSize: the replica struct fits Go's 448-byte size class, its
// published view (descriptor and membership, one allocation) the
// 192-byte class. A new field that pushes either into the next class
// costs 32-64 B per replica: find room, or move rarely used state
// behind a pointer.
func TestReplicaSize(t *testing.T) {
	if got := unsafe.Sizeof(replica{}); got > 448 {
		t.Errorf("replica is %d B, above the 448 B size class", got)
	}
	if got := unsafe.Sizeof(replicaView{}); got > 192 {
		t.Errorf("replicaView is %d B, above the 192 B size class", got)
	}
}

// TestReplicasOfSharesVoters: a voters-only membership lends its voter
// array to the descriptor (no copy per replica); any other lists every
// member once, voters first.
func TestReplicasOfSharesVoters(t *testing.T) {
	cs := raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}}
	got := replicasOf(&cs)
	if !slices.Equal(got, cs.Voters) || &got[0] != &cs.Voters[0] {
		t.Fatalf("voters only: %v, shared %v", got, &got[0] == &cs.Voters[0])
	}
	joint := raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 4}, VotersOutgoing: []raftpb.NodeID{1, 2, 3},
		Learners: []raftpb.NodeID{5}, LearnersNext: []raftpb.NodeID{3}}
	if got, want := replicasOf(&joint), []raftpb.NodeID{1, 2, 4, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("joint: %v, want %v", got, want)
	}
	dup := raftpb.ConfState{Voters: []raftpb.NodeID{1, 1}}
	if got := replicasOf(&dup); !slices.Equal(got, []raftpb.NodeID{1}) {
		t.Fatalf("duplicate voters: %v", got)
	}
}

// TestQuiescedReplicaDropsRequestMaps: a replica that served a write and
// a read keeps no empty proposal or read map once its group quiesces (an
// emptied Go map keeps its buckets), and makes them again for the next
// requests.
func TestQuiescedReplicaDropsRequestMaps(t *testing.T) {
	c := newMemCluster(t, 3, 1, 41)
	for round := 0; round < 2; round++ {
		c.put("k000001", "v")
		if v, ok := c.get("k000001"); !ok || v != "v" {
			t.Fatalf("round %d: get = %q %v", round, v, ok)
		}
		waitAllSettled(t, c)
		for _, id := range c.live() {
			for _, r := range c.node(id).replicas(nil) {
				if r.pending != nil || r.reads != nil || r.readsToApply != nil || r.outSnaps != nil {
					t.Fatalf("round %d: node %d shard %d keeps request state after quiescing: pending %v, reads %v, readsToApply %v, outSnaps %v",
						round, id, r.id, r.pending, r.reads, r.readsToApply, r.outSnaps)
				}
			}
		}
	}
}

// waitAllSettled waits until every replica of every live node is out
// of any round (scheduler idle) and quiet (awake flag down).
//
// NB: this order makes the replicas' round-owned fields safe to read
// afterwards: a round's settle lowers the flag after its last write to
// them and the scheduler goes idle after that, both atomics, so the
// reader sees the writes of the round that quiesced the group. (The
// quiesced gauge would not do: it is refreshed only at the next tick.)
func waitAllSettled(t *testing.T, c *testCluster) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := 0
		for _, id := range c.live() {
			for _, r := range c.node(id).replicas(nil) {
				if r.sched.Load() != schedIdle || r.awake.Load() {
					busy++
				}
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas still busy or awake after 10s", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStartupBuffersGivenBack: the ready queue and a worker's Ready
// buffer, sized by a start-up in which every replica was busy, are given
// back once the store is quiet, and kept while rounds still fill them.
func TestStartupBuffersGivenBack(t *testing.T) {
	s := newScheduler()
	rs := make([]*replica, 3*maxIdleQueue)
	for i := range rs {
		rs[i] = &replica{}
		s.enqueue(rs[i])
	}
	var batch []*replica
	for taken := 0; taken < len(rs); taken += len(batch) {
		batch = s.take(batch, 1024)
		if len(batch) == 0 {
			t.Fatalf("queue empty after %d of %d", taken, len(rs))
		}
	}
	s.trim()
	if c := cap(s.queue); c > maxIdleQueue {
		t.Errorf("emptied ready queue keeps capacity %d after trim", c)
	}

	rn := &round{readies: make([]readyItem, 200, 1024)}
	w := &worker{free: []*round{rn, {readies: make([]readyItem, 0, 8)}, {}}}
	w.countSmallRound(rn)
	w.trimRounds()
	if cap(rn.readies) != 1024 || len(w.free) != 3 {
		t.Fatalf("after a round that took 200 groups, the idle worker lost its buffers")
	}
	for i := 0; i < minSmallRounds; i++ {
		// Small rounds, in the large buffer or in a small one.
		small := w.free[i%2]
		small.readies = small.readies[:min(cap(small.readies), i%3*30)]
		w.countSmallRound(small)
		if i < minSmallRounds-1 {
			w.trimRounds()
			if cap(rn.readies) != 1024 || len(w.free) != 3 {
				t.Fatalf("after %d small rounds, the idle worker lost its buffers", i+1)
			}
		}
	}
	w.trimRounds()
	if rn.readies != nil || len(w.free) != 1 {
		t.Errorf("after %d rounds that took at most 60 groups, the idle worker kept its buffer (cap %d) and %d pooled rounds",
			minSmallRounds, cap(rn.readies), len(w.free))
	}
}
