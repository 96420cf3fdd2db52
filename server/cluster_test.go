package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRESPNodeLoss: with one node of three down the others serve every
// key; with two down the survivor answers with a retryable error.
func TestRESPNodeLoss(t *testing.T) {
	nodes := openClusterWith(t, func(o *NodeOptions) { o.Store.RequestTimeout = time.Second })
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
