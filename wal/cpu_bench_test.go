package wal

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
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
			b.ReportAllocs()
			b.ResetTimer()
			elapsed, _ := drive(b, b.N, 10000, s, func() worker { return &walWorker{w: w, b: w.NewBatch()} })
			m := w.Metrics()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(m.Entries)/float64(m.Fsyncs), "entries/fsync")
		})
	}
}
