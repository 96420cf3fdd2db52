package shard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestTCPClusterForwardsToLeader: over the TCP transport, with no Caller
// in Options, a write and a linearizable read sent to a node that does
// not lead the shard are forwarded to the leader's node (Transport.Call)
// and succeed; the leader's transport counts the calls it served.
func TestTCPClusterForwardsToLeader(t *testing.T) {
	c := newTCPCluster(t, 3, 1, 31, nil)
	c.put("k000001", "warm")           // waits for a leader
	leader := c.leaderOf(t, "k000001") // leaderOf is in linearizability_test.go
	var followers []raftpb.NodeID
	for _, id := range c.live() {
		if id != leader {
			followers = append(followers, id)
		}
	}
	for i, id := range followers {
		key := []byte(fmt.Sprintf("k%06d", 100+i))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.node(id).Put(ctx, key, []byte("forwarded")); err != nil {
			cancel()
			t.Fatalf("put at follower %d (leader %d): %v", id, leader, err)
		}
		other := followers[(i+1)%len(followers)]
		v, ok, err := c.node(other).Get(ctx, key, Linearizable)
		cancel()
		if err != nil || !ok || string(v) != "forwarded" {
			t.Fatalf("linearizable get at follower %d: %q %v %v", other, v, ok, err)
		}
	}
	var fwd uint64
	for _, id := range followers {
		fwd += c.node(id).Metrics().Forwarded
	}
	if fwd < 2 {
		t.Fatalf("followers forwarded %d requests, want at least the put and the read", fwd)
	}
	if m := c.node(leader).tcp.Metrics(); m.CallsServed < 2 {
		t.Fatalf("leader's transport served %d calls, want at least 2: %+v", m.CallsServed, m)
	}
}
