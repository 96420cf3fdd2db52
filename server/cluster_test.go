package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRESPWithoutForwarding: a node that cannot forward answers requests
// for shards it does not lead with "ERR not leader", naming the leader,
// and serves the shards it leads.
func TestRESPWithoutForwarding(t *testing.T) {
	nodes := openClusterWith(t, false, nil)
	ctx := context.Background()
	served, refused := 0, 0
	for _, n := range nodes {
		c := newClient(t, n, "")
		for _, sh := range n.Store.Shards() {
			err := c.Set(ctx, string(sh.Desc.Start)+"x", "v", 0).Err()
			var nl string
			switch {
			case err == nil:
				served++
			case strings.HasPrefix(err.Error(), "ERR not leader: node "):
				nl = strings.TrimPrefix(err.Error(), "ERR not leader: node ")
				if strings.HasPrefix(nl, fmt.Sprint(n.Store.NodeID())+" ") {
					t.Fatalf("node %d names itself as the leader: %v", n.Store.NodeID(), err)
				}
				refused++
			default:
				t.Fatalf("node %d, shard %d: %v", n.Store.NodeID(), sh.Desc.ID, err)
			}
		}
	}
	if refused == 0 || served == 0 {
		t.Fatalf("served %d, refused %d: every shard has one leader and two refusing followers", served, refused)
	}
}

// TestRESPNodeLoss: with one node of three down the others serve every
// key; with two down the survivor answers with a retryable error.
func TestRESPNodeLoss(t *testing.T) {
	nodes := openClusterWith(t, true, func(o *NodeOptions) { o.Store.RequestTimeout = time.Second })
	ctx := context.Background()
	c := newClient(t, nodes[0], "")
	must(t, nodes[2].Close())
	for i := 0; i < 10000; i += 1000 {
		if err := setEventually(ctx, c, key(i)); err != nil {
			t.Fatalf("with one node down: %v", err)
		}
	}
	must(t, nodes[1].Close())
	err := c.Set(ctx, key(1), "v", 0).Err()
	if err == nil || !(strings.HasPrefix(err.Error(), "TRYAGAIN") || strings.HasPrefix(err.Error(), "ERR timeout")) {
		t.Fatalf("with two nodes down: %v, want TRYAGAIN or ERR timeout", err)
	}
}

// setEventually retries while the key's shard elects a new leader.
func setEventually(ctx context.Context, c *redis.Client, k string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Set(ctx, k, "v", 0).Err()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		var re redis.Error
		if !errors.As(err, &re) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
