package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// BenchmarkRoutingLookup looks random keys up in a table of 1,024 shards
// from parallel goroutines, as a store's clients do.
func BenchmarkRoutingLookup(b *testing.B) {
	const shards = 1024
	var t routing
	for i := range shards {
		r := &replica{id: ShardID(i + 1)}
		d := Descriptor{ID: r.id, Start: []byte(fmt.Sprintf("%08x", uint32(i)<<22))}
		if i+1 < shards {
			d.End = []byte(fmt.Sprintf("%08x", uint32(i+1)<<22))
		}
		r.publish(d, raftpb.ConfState{Voters: []raftpb.NodeID{1}})
		t.update(r)
	}
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(1, 2))
		key := make([]byte, 0, 8)
		for pb.Next() {
			key = fmt.Appendf(key[:0], "%08x", rng.Uint32())
			if t.lookup(key) == nil {
				b.Fatalf("no shard for %s", key)
			}
		}
	})
}
