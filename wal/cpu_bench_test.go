package wal

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// BenchmarkSubmitMemFS measures the CPU cost of the submit, write and
// wake path with an in-memory file system (no disk): the ceiling the WAL's
// own code sets, to compare with the disk-bound figures.
func BenchmarkSubmitMemFS(b *testing.B) {
	for _, s := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("submitters=%d", s), func(b *testing.B) {
			w, err := Open(Options{Dir: "/wal", FS: vfs.NewMem()})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			pool := sync.Pool{New: func() any { return w.NewBatch() }}
			b.ReportAllocs()
			b.ResetTimer()
			elapsed, _ := drive(b, b.N, 10000, s, func(g raftpb.GroupID, idx raftpb.Index, data []byte) func() error {
				bt := pool.Get().(*Batch)
				bt.Reset()
				e := [1]raftpb.Entry{{Term: 1, Index: idx, Data: data}}
				bt.Append(g, e[:])
				p := w.Submit(bt)
				return func() error {
					err := p.Wait(context.Background())
					pool.Put(bt)
					return err
				}
			})
			m := w.Metrics()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(m.Entries)/float64(m.Fsyncs), "entries/fsync")
		})
	}
}
