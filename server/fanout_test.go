package server

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/flotilladb/flotilla/shard"
)

// TestGroupByShard: ops go into one group per shard, in the order of each
// shard's first op, keeping their order within it; an op whose shard is
// unknown gets a group of its own.
func TestGroupByShard(t *testing.T) {
	shardOf := func(k []byte) (shard.ShardID, error) {
		switch {
		case string(k) == "?":
			return 0, shard.ErrNoShard
		case string(k) < "g":
			return 1, nil
		case string(k) < "p":
			return 2, nil
		}
		return 3, nil
	}
	var ops []shard.Op
	for _, k := range []string{"z", "a", "?", "h", "b", "z", "", "?", "g"} {
		ops = append(ops, shard.Op{Kind: shard.OpPut, Key: []byte(k)})
	}
	got := fmt.Sprint(keysOf(groupByShard(shardOf, ops)))
	if want := "[[z z] [a b ] [?] [h g] [?]]"; got != want {
		t.Fatalf("groups %s, want %s", got, want)
	}
}

func keysOf(groups [][]shard.Op) [][]string {
	var out [][]string
	for _, g := range groups {
		var ks []string
		for _, op := range g {
			ks = append(ks, string(op.Key))
		}
		out = append(out, ks)
	}
	return out
}

func TestFanOut(t *testing.T) {
	var inFlight, peak atomic.Int32
	errAt := errors.New("at 7")
	err := fanOut(100, func(i int) error {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		if i == 7 || i == 50 {
			return fmt.Errorf("%w", errAt)
		}
		return nil
	})
	if !errors.Is(err, errAt) {
		t.Fatalf("fanOut error %v", err)
	}
	if peak.Load() > maxFanOut {
		t.Fatalf("%d calls in flight, bound %d", peak.Load(), maxFanOut)
	}
}
