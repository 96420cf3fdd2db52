package harness

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// router sends each request to the node believed to lead its shard,
// follows *shard.NotLeaderError hints, and remembers the leader of each
// shard. The stores could forward a request sent to a follower, but going
// to the leader keeps the forwarding hop out of the figures.
//
// It is safe for concurrent use.
type router struct {
	c      *cluster
	stores []*shard.Store // a copy taken at creation: clients never read c.stores
	// leaders[i] is the node believed to lead shard i, 0 if unknown.
	leaders []atomic.Uint64
	// down[n-1] is set for a node the harness has stopped: clients skip it
	// as they would a node whose connection was refused.
	down []atomic.Bool
	// once: one attempt per request (and at once one more after a fresh
	// hint), so that clients see errors instead of retrying them away.
	once bool
}

func newRouter(c *cluster) *router {
	return &router{c: c, stores: append([]*shard.Store(nil), c.stores...),
		leaders: make([]atomic.Uint64, c.ks.groups()), down: make([]atomic.Bool, len(c.stores))}
}

// maxBackoff bounds the pause between attempts while a shard has no
// leader.
const maxBackoff = 20 * time.Millisecond

// errNodeDown is what a request gets when every node it could try is down.
var errNodeDown = errors.New("bench: node stopped")

// next returns the first node after node (cyclically) that is not down.
func (rt *router) next(node uint64) uint64 {
	n := uint64(len(rt.stores))
	for range n {
		node = node%n + 1
		if !rt.down[node-1].Load() {
			return node
		}
	}
	return node
}

// do runs op against the leader of shard i until it succeeds, fails with
// an error that a retry cannot fix, or ctx ends (with rt.once, after one
// attempt).
func (rt *router) do(ctx context.Context, i int, op func(*shard.Store) error) error {
	n := uint64(len(rt.stores))
	node := rt.leaders[i].Load()
	if node == 0 {
		node = uint64(i)%n + 1
	}
	backoff := time.Millisecond
	for attempt := 0; ; attempt++ {
		if rt.down[node-1].Load() {
			node = rt.next(node)
		}
		err := errNodeDown
		if !rt.down[node-1].Load() {
			err = op(rt.stores[node-1])
		}
		if err == nil {
			rt.leaders[i].Store(node)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var nl *shard.NotLeaderError
		switch {
		case errors.As(err, &nl) && nl.Leader != raftpb.None && uint64(nl.Leader) <= n && !rt.down[nl.Leader-1].Load():
			node = uint64(nl.Leader)
			rt.leaders[i].Store(node)
			if attempt < int(n) {
				continue // a fresh hint: go at once
			}
		case rt.once:
			rt.leaders[i].Store(rt.next(node))
			return err
		case errors.As(err, &nl), errors.Is(err, shard.ErrNoQuorum), errors.Is(err, errNodeDown),
			errors.Is(err, shard.ErrProposalDropped), errors.Is(err, shard.ErrTimeout):
			node = rt.next(node)
		default:
			return err
		}
		if rt.once {
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
