package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// mgetSets returns key sets each inside one shard of testSplits (splits at
// k2500, k5000, k7500).
func mgetSets() [][]string {
	return [][]string{
		{"k0100", "k0101", "k0102", "k0103", "k0104", "k0105"},
		{"k9000", "k9001", "k9002", "k9003"},
	}
}

// TestRESPMGetAtomicPerShard checks what the docs promise of MGET: the
// keys of one shard are read at one moment. Writers on every node keep
// MSETting one value to every key of both sets (one MSET: atomic per
// shard, not across); readers on every node MGET all the keys and must
// see each set hold one value, never a mix, and must have seen the
// values change (so the reads overlapped the writes).
func TestRESPMGetAtomicPerShard(t *testing.T) {
	const msets = 300
	nodes := openCluster(t)
	var keys []string
	for _, set := range mgetSets() {
		keys = append(keys, set...)
	}
	stop, enough := make(chan struct{}), make(chan struct{})
	var wrote atomic.Int64
	var wg sync.WaitGroup
	for w, n := range nodes {
		c := newClient(t, n, "")
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pairs := make([]any, 0, 2*len(keys))
				for _, k := range keys {
					pairs = append(pairs, k, fmt.Sprintf("w%d-%d", w, i))
				}
				// An error (a timeout on a loaded machine) only means
				// fewer writes: the test waits for enough of them.
				if c.MSet(context.Background(), pairs...).Err() == nil && wrote.Add(1) == msets {
					close(enough)
				}
			}
		})
	}
	errs := make([]error, len(nodes))
	reads, changes := make([]int, len(nodes)), make([]int, len(nodes))
	for r, n := range nodes {
		c := newClient(t, n, "")
		wg.Go(func() { reads[r], changes[r], errs[r] = mgetUntil(c, keys, stop) })
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Errorf("only %d of %d MSETs done in 60 s", wrote.Load(), msets)
	}
	close(stop)
	wg.Wait()
	for r, n := range nodes {
		if errs[r] != nil {
			t.Errorf("MGET at node %d, read %d: %v", n.Store.NodeID(), reads[r], errs[r])
		} else if changes[r] == 0 {
			t.Errorf("MGET at node %d: the sets never changed in %d reads: the check proved nothing", n.Store.NodeID(), reads[r])
		}
	}
	t.Logf("%d MSETs; MGETs per node %v, changes seen %v", wrote.Load(), reads, changes)
}

// mgetUntil MGETs keys (the sets, in order) until stop is closed and
// checks that each set is read whole: every key holds one value, or every
// key is absent. It returns the reads and how often a set's value
// differed from the one the read before saw.
func mgetUntil(c *redis.Client, keys []string, stop <-chan struct{}) (reads, changes int, err error) {
	last := make([]any, len(mgetSets()))
	for ; ; reads++ {
		select {
		case <-stop:
			return reads, changes, nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		vals, err := c.MGet(ctx, keys...).Result()
		cancel()
		if err != nil {
			return reads, changes, err
		}
		at := 0
		for si, set := range mgetSets() {
			got := vals[at : at+len(set)]
			for _, v := range got {
				if v != got[0] {
					return reads, changes, fmt.Errorf("half-applied MSET: %v hold %q", set, got)
				}
			}
			if reads > 0 && got[0] != last[si] {
				changes++
			}
			last[si] = got[0]
			at += len(set)
		}
	}
}
