package transport

import (
	"testing"
)

// BenchmarkCall measures Call round trips of a 100-byte request with an
// echoing handler between two transports on loopback: one caller at a
// time ("serial") and from GOMAXPROCS*8 goroutines ("parallel"), where
// calls are pipelined on the one call connection.
//
//	go test ./transport -run '^$' -bench Call -benchtime 3s
func BenchmarkCall(b *testing.B) {
	req := make([]byte, 100)
	b.Run("serial", func(b *testing.B) {
		c := newCluster(b, 2, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.nodes[1].Call(b.Context(), 2, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c := newCluster(b, 2, nil)
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.nodes[1].Call(b.Context(), 2, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
