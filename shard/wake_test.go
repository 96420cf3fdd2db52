package shard

import (
	"context"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestRequestWakesQuietFollowersOfDeadLeader: in a static cluster nothing
// declares a stopped node dead (no NodeDead call here), so the quiet
// followers of the shards it led must be woken by the requests that reach
// them, elect a new leader, and serve.
func TestRequestWakesQuietFollowersOfDeadLeader(t *testing.T) {
	c := newMemCluster(t, 3, 1, 31)
	c.put("k000001", "v")
	deadline := time.Now().Add(10 * time.Second)
	for {
		quiet := 0
		for _, id := range c.live() {
			quiet += c.node(id).Metrics().QuiescedReplicas
		}
		if quiet == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard did not quiesce (%d of 3 replicas quiet)", quiet)
		}
		time.Sleep(5 * time.Millisecond)
	}
	leader := c.leaderOf(t, "k000001")
	c.stopNode(leader)
	deadline = time.Now().Add(10 * time.Second)
	for {
		var err error
		for _, id := range c.live() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = c.node(id).Put(ctx, []byte("k000002"), []byte("after"))
			cancel()
			if err == nil {
				break
			}
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no survivor took over the shard of stopped leader %d: %v", leader, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, ok := c.get("k000002"); !ok || got != "after" {
		t.Fatalf("read after the takeover: %q %v", got, ok)
	}
	if l := c.leaderOf(t, "k000002"); l == leader || l == raftpb.None {
		t.Fatalf("leader is still %d", l)
	}
}
