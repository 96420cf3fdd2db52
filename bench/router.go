package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// router sends each request to the node believed to lead its shard. The
// stores do not forward requests yet, so it follows NotLeaderError hints
// and remembers the leader of each shard.
//
// It is safe for concurrent use.
type router struct {
	c *cluster
	// leaders[i] is the node believed to lead shard i, 0 if unknown.
	leaders []atomic.Uint64
}

func newRouter(c *cluster) *router {
	return &router{c: c, leaders: make([]atomic.Uint64, c.ks.groups())}
}

// maxBackoff bounds the pause between attempts while a shard has no
// leader.
const maxBackoff = 20 * time.Millisecond

// do runs op against the leader of shard i until it succeeds, fails with
// an error that a retry cannot fix, or ctx ends.
func (rt *router) do(ctx context.Context, i int, op func(*shard.Store) error) error {
	n := uint64(len(rt.c.stores))
	node := rt.leaders[i].Load()
	if node == 0 {
		node = uint64(i)%n + 1
	}
	backoff := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := op(rt.c.stores[node-1])
		if err == nil {
			rt.leaders[i].Store(node)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var nl *shard.NotLeaderError
		switch {
		case errors.As(err, &nl) && nl.Leader != raftpb.None && uint64(nl.Leader) <= n:
			node = uint64(nl.Leader)
			rt.leaders[i].Store(node)
			if attempt < int(n) {
				continue // a fresh hint: go at once
			}
		case errors.As(err, &nl), errors.Is(err, shard.ErrNoQuorum),
			errors.Is(err, shard.ErrProposalDropped), errors.Is(err, shard.ErrTimeout):
			node = node%n + 1
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
