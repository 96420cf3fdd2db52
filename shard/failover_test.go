package shard

import (
	"fmt"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestNodeDeadElectsLowestLiveVoter: when membership declares the node
// leading many shards dead, each of its shards is led again by the one
// survivor chosen to campaign at once (the lowest-numbered live voter),
// not by whichever survivor's randomized election timeout fires first.
// The election timeout here (1.5-3 s) is far longer than the test waits
// for, so only the campaign NodeDead starts can elect these leaders.
func TestNodeDeadElectsLowestLiveVoter(t *testing.T) {
	t.Run("all survivors told", func(t *testing.T) { testNodeDeadElects(t, false) })
	// Membership's news reaches nodes at different times: the candidate's
	// campaign carries it to a voter not yet told.
	t.Run("only the candidate told", func(t *testing.T) { testNodeDeadElects(t, true) })
}

func testNodeDeadElects(t *testing.T, onlyCandidate bool) {
	const shards = 48
	c := newMemClusterTweaked(t, 3, shards, 11, func(_ raftpb.NodeID, o *Options) { o.ElectionTicks = 150 })
	leaders := c.waitLeaders(t, shards, 30*time.Second)
	count := map[raftpb.NodeID]int{}
	for _, l := range leaders {
		count[l]++
	}
	victim := raftpb.NodeID(1)
	for id, n := range count {
		if n > count[victim] {
			victim = id
		}
	}
	var survivors []raftpb.NodeID
	for _, id := range c.live() {
		if id != victim {
			survivors = append(survivors, id)
		}
	}
	want := survivors[0] // live() is sorted
	c.net.Isolate(victim)
	c.stopNode(victim)
	start := time.Now()
	for _, id := range survivors {
		if id == want || !onlyCandidate {
			c.node(id).NodeDead(victim)
		}
	}
	// Wait, well inside the 1.5 s minimum election timeout, for every
	// shard the victim led to be led again on both survivors.
	deadline := start.Add(1200 * time.Millisecond)
	for {
		done, wrong := 0, 0
		for sh, l := range leaders {
			if l != victim {
				continue
			}
			nl := c.leaderAt(survivors[0], sh)
			if nl == c.leaderAt(survivors[1], sh) && nl != raftpb.None && nl != victim {
				done++
				if nl != want {
					wrong++
				}
			}
		}
		if wrong > 0 {
			t.Fatalf("%d shards elected a survivor other than node %d", wrong, want)
		}
		if done == count[victim] {
			t.Logf("%d shards led again by node %d in %v", done, want, time.Since(start))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v only %d of %d shards of dead node %d have a new leader", time.Since(start), done, count[victim], victim)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitLeaders waits until every shard has one leader that every node
// knows, and returns them by shard.
func (c *testCluster) waitLeaders(t *testing.T, shards int, within time.Duration) map[ShardID]raftpb.NodeID {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		leaders := map[ShardID]raftpb.NodeID{}
		unsettled := map[ShardID]bool{}
		for _, id := range c.live() {
			for _, r := range c.node(id).replicas(nil) {
				l := raftpb.NodeID(r.leader.Load())
				if prev, ok := leaders[r.id]; l == raftpb.None || (ok && prev != l) {
					unsettled[r.id] = true
				}
				leaders[r.id] = l
			}
		}
		if len(unsettled) == 0 && len(leaders) == shards {
			return leaders
		}
		if time.Now().After(deadline) {
			// A backlog that keeps growing means elections time out
			// before their messages arrive (TestClusterThousandShards).
			backlog := "over TCP"
			if c.net != nil {
				backlog = fmt.Sprintf("%d messages in flight in memory", c.net.Pending())
			}
			t.Fatalf("%d of %d shards without an agreed leader after %v (%s)",
				len(unsettled)+shards-len(leaders), shards, within, backlog)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaderAt is the leader node id's replica of shard sh knows.
func (c *testCluster) leaderAt(id raftpb.NodeID, sh ShardID) raftpb.NodeID {
	for _, r := range c.node(id).replicas(nil) {
		if r.id == sh {
			return raftpb.NodeID(r.leader.Load())
		}
	}
	return raftpb.None
}
