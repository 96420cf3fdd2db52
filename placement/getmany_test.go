package placement

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// TestGetManyReadsShardsHostedElsewhere: with one replica per shard on
// two nodes, each node hosts one of the two user shards; a GetMany at
// either node of keys of both shards reads the other node's shard through
// the directory (one forwarded request for its keys) and returns every
// value in order, absent keys not found.
func TestGetManyReadsShardsHostedElsewhere(t *testing.T) {
	c := newTestCluster(t, 2, 2, func(o *Options) { o.Plan.Replicas, o.Plan.MetaReplicas = 1, 1 })
	// Shard 1 holds keys below k500000, shard 2 the rest.
	keys := [][]byte{[]byte("k000001"), []byte("k900001"), []byte("k000002"), []byte("k900002"), []byte("k700000")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, k := range keys[:4] {
		if err := c.node(1).Store().Put(ctx, k, fmt.Appendf(nil, "v-%s", k)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for _, id := range []raftpb.NodeID{1, 2} {
		s := c.node(id).Store()
		hosts1, _ := s.Hosts(1)
		hosts2, _ := s.Hosts(2)
		if hosts1 == hosts2 {
			t.Fatalf("node %d hosts shard 1: %v, shard 2: %v; want exactly one", id, hosts1, hosts2)
		}
		before := s.Metrics().Forwarded
		vals, found, err := s.GetMany(ctx, keys, shard.Linearizable)
		if err != nil {
			t.Fatalf("GetMany at node %d: %v", id, err)
		}
		for i, k := range keys {
			want := fmt.Sprintf("v-%s", k)
			if i == 4 {
				want = ""
			}
			if string(vals[i]) != want || found[i] != (i < 4) {
				t.Errorf("GetMany at node %d: %s = %q %v, want %q", id, k, vals[i], found[i], want)
			}
		}
		if s.Metrics().Forwarded == before {
			t.Errorf("node %d forwarded nothing, though it does not host one of the shards", id)
		}
	}
}
