package main

import (
	"fmt"
	"sort"
)

// keySpace is the workload's key format, the same as the main harness's
// (bench/harness/keys.go): a uint32 as 8 lowercase hexadecimal digits, split into
// n shards at evenly spaced keys. Shard i (0-based) holds [starts[i],
// starts[i+1]) and is dragonboat shard ID i+1.
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

// shardOf returns the 0-based index of the shard holding k.
func (ks keySpace) shardOf(k uint32) int {
	return sort.Search(len(ks.starts), func(i int) bool { return ks.starts[i] > k }) - 1
}

// firstKey returns the first key of shard i.
func (ks keySpace) firstKey(i int) uint32 { return ks.starts[i] }

func (ks keySpace) groups() int { return len(ks.starts) }

func formatKey(dst []byte, k uint32) []byte {
	return fmt.Appendf(dst, "%08x", k)
}
