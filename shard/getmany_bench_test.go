package shard

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkGetMany compares one GetMany of 16 keys over 4 shards (4 keys
// each) with what MGET did before it: 16 Gets in parallel. "local" is a
// single node (every shard led here); "follower" is a 3-node TCP cluster
// read at a node leading none of the shards, so every shard's keys are
// forwarded (one call per shard for GetMany, one per key for the Gets).
// Linearizable reads; per op, one 16-key read.
//
// Medians of 5 runs of -benchtime 300x on the shared 2-vCPU machine
// (wall time per 16-key read):
//
//	| case     | GetMany | 16 Gets | ratio |
//	|----------|---------|---------|-------|
//	| local    |   43 us |  126 us |  2.9x |
//	| follower |  292 us |  781 us |  2.7x |
func BenchmarkGetMany(b *testing.B) {
	keys := make([][]byte, 16)
	for i := range keys {
		keys[i] = []byte(shardKey(i%4, 4) + fmt.Sprint(i))
	}
	b.Run("local", func(b *testing.B) {
		s, err := Open(context.Background(), Options{Dir: b.TempDir(), SplitKeys: splitKeys(4)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchGetMany(b, s, keys)
	})
	b.Run("follower", func(b *testing.B) {
		c := newTCPCluster(b, 3, 4, 51, nil)
		at := c.node(1)
		// Move every shard's leadership away from the reading node.
		for _, k := range keys {
			for try := 0; c.leaderOf(b, string(k)) == 1; try++ {
				if try == 20 {
					b.Fatalf("node 1 still leads the shard of %s", k)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = at.TransferLeader(ctx, at.routes.lookup(k).id, 2)
				cancel()
				at.awaitElection(context.Background())
			}
		}
		benchGetMany(b, at, keys)
	})
}

func benchGetMany(b *testing.B, s *Store, keys [][]byte) {
	ctx := context.Background()
	for _, k := range keys {
		if err := s.Put(ctx, k, []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("getmany", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.GetMany(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("per-key", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make([]error, len(keys))
			for i, k := range keys {
				wg.Go(func() { _, _, errs[i] = s.Get(ctx, k) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
