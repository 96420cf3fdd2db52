package server

import (
	"bytes"
	"sort"
	"sync"

	"github.com/flotilladb/flotilla/shard"
)

// maxFanOut bounds the requests one multi-key command has in flight.
const maxFanOut = 16

// fanOut runs f(0..n-1) with at most maxFanOut at a time and returns the
// first error (by index). Every call has returned when it returns.
func fanOut(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, maxFanOut)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
			<-sem
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// groupByShard splits ops into groups whose keys fall in one shard each,
// by the routing this node sees now, keeping the order of ops within a
// group (so a repeated key's last value wins, as in Redis). A shard
// boundary that moves meanwhile makes a group's Exec fail with
// ErrCrossShard; the caller then falls back to one key at a time.
func groupByShard(shards []shard.ShardStatus, ops []shard.Op) [][]shard.Op {
	idx := map[int][]shard.Op{}
	var order []int
	for _, op := range ops {
		i := sort.Search(len(shards), func(i int) bool { return bytes.Compare(shards[i].Desc.Start, op.Key) > 0 }) - 1
		if _, seen := idx[i]; !seen {
			order = append(order, i)
		}
		idx[i] = append(idx[i], op)
	}
	groups := make([][]shard.Op, 0, len(order))
	for _, i := range order {
		groups = append(groups, idx[i])
	}
	return groups
}
