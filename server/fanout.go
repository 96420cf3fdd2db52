package server

import (
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
// by shardOf (the store's routing: Store.ShardFor), keeping the order of
// ops within a group (so a repeated key's last value wins, as in Redis).
// An op whose shard is not known gets a group of its own, whose Exec then
// reports why. NB: routing by the store, not by the shards this node
// hosts: in a placement cluster a node hosts only some shards, and keys of
// the others used to fall into the group of the nearest hosted shard.
func groupByShard(shardOf func([]byte) (shard.ShardID, error), ops []shard.Op) [][]shard.Op {
	idx := map[shard.ShardID]int{}
	var groups [][]shard.Op
	for _, op := range ops {
		id, err := shardOf(op.Key)
		if err != nil {
			groups = append(groups, []shard.Op{op})
			continue
		}
		i, seen := idx[id]
		if !seen {
			i = len(groups)
			idx[id] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], op)
	}
	return groups
}
