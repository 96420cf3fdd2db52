package harness

import (
	"fmt"
	"sort"
)

// keySpace is the benchmark's key format: a uint32 as 8 lowercase
// hexadecimal digits, so that byte order is numeric order. It is split
// into n shards at evenly spaced keys.
//
// Invariant: starts[0] == 0, starts is strictly increasing, and shard i
// holds the keys in [starts[i], starts[i+1]).
type keySpace struct {
	starts []uint32
}

func newKeySpace(groups int) keySpace {
	starts := make([]uint32, groups)
	for i := range starts {
		starts[i] = uint32(uint64(i) << 32 / uint64(groups))
	}
	return keySpace{starts: starts}
}

// splitKeys returns the n-1 keys at which the shards begin (the first
// shard begins at the start of the key space).
func (ks keySpace) splitKeys() [][]byte {
	out := make([][]byte, 0, len(ks.starts)-1)
	for _, s := range ks.starts[1:] {
		out = append(out, formatKey(nil, s))
	}
	return out
}

// shardOf returns the index (0-based, in key order) of the shard holding k.
func (ks keySpace) shardOf(k uint32) int {
	return sort.Search(len(ks.starts), func(i int) bool { return ks.starts[i] > k }) - 1
}

// firstKey returns the first key of shard i.
func (ks keySpace) firstKey(i int) uint32 { return ks.starts[i] }

func (ks keySpace) groups() int { return len(ks.starts) }

func formatKey(dst []byte, k uint32) []byte {
	return fmt.Appendf(dst, "%08x", k)
}

// keyBytes is the length of every key formatKey makes.
const keyBytes = 8
