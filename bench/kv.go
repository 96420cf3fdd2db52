package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/flotilladb/flotilla/shard"
)

// newKVCluster starts a cluster of s.groups shards and waits for every
// shard's leader.
func newKVCluster(ctx context.Context, cfg config, s step) (*cluster, *router, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	c, err := startCluster(ctx, cfg, newKeySpace(s.groups))
	if err != nil {
		return nil, nil, err
	}
	rt := newRouter(c)
	if err := c.waitLeaders(ctx, rt, 64); err != nil {
		c.close()
		return nil, nil, err
	}
	return c, rt, nil
}

// runKV runs the clients of a key-value step against c.
func runKV(ctx context.Context, cfg config, s step, c *cluster, newOp func(int) clientOp) (Result, error) {
	res, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		newOp: newOp, counters: c.counters, prof: cfg.prof,
		label: fmt.Sprintf("%s-%dg-%dc-%db", s.workload, s.groups, s.clients, s.size),
	})
	res.System, res.Workload = "flotilla", s.workload
	res.Groups, res.Clients, res.Size = s.groups, s.clients, s.size
	return res, err
}

// runWrite: every client Puts random keys with s.size-byte values.
func runWrite(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	return runKV(ctx, cfg, s, c, func(i int) clientOp {
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)))
		val := make([]byte, s.size)
		for j := range val {
			val[j] = byte('a' + rng.IntN(26))
		}
		var key []byte
		return func(ctx context.Context) error {
			k := rng.Uint32()
			key = formatKey(key[:0], k)
			return rt.do(ctx, c.ks.shardOf(k), func(st *shard.Store) error {
				return st.Put(ctx, key, val)
			})
		}
	})
}

// readKeys is how many keys the read scenario writes before its clock
// starts: a few per shard, within bounds.
func readKeys(groups int) int { return min(max(8*groups, 4096), 1<<16) }

// runRead: every client does linearizable Gets of keys written before
// the window.
func runRead(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	rng := rand.New(rand.NewPCG(cfg.seed, 0))
	keys := make([]uint32, readKeys(s.groups))
	for i := range keys {
		keys[i] = rng.Uint32()
	}
	if err := preload(ctx, rt, keys, s.size, s.clients); err != nil {
		return Result{}, err
	}
	return runKV(ctx, cfg, s, c, func(i int) clientOp {
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+1))
		var key []byte
		return func(ctx context.Context) error {
			k := keys[rng.IntN(len(keys))]
			key = formatKey(key[:0], k)
			return rt.do(ctx, c.ks.shardOf(k), func(st *shard.Store) error {
				_, found, err := st.Get(ctx, key)
				if err == nil && !found {
					return fmt.Errorf("key %s written before the run is missing", key)
				}
				return err
			})
		}
	})
}

// preload writes keys with size-byte values, parallel at a time.
func preload(ctx context.Context, rt *router, keys []uint32, size, parallel int) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	parallel = max(parallel, 1)
	work := make(chan uint32)
	errs := make([]error, parallel)
	val := make([]byte, size)
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			var key []byte
			for k := range work {
				if errs[w] != nil {
					continue // drain after a failure
				}
				key = formatKey(key[:0], k)
				err := rt.do(ctx, rt.c.ks.shardOf(k), func(st *shard.Store) error {
					return st.Put(ctx, key, val)
				})
				if err != nil {
					errs[w] = fmt.Errorf("preloading %s: %w", key, err)
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}
