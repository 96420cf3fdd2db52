package wal

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// fillGroups appends perGroup entries of dataBytes to each of groups
// groups, perRecord entries per group per batch (one batch holds one
// round over every group, as the store writes), and returns the entries
// written.
func fillGroups(b *testing.B, w *WAL, groups, perGroup, perRecord, dataBytes int) int {
	data := make([]byte, dataBytes)
	es := make([]raftpb.Entry, perRecord)
	bt := w.NewBatch()
	n := 0
	for first := 1; first <= perGroup; first += perRecord {
		bt.Reset()
		for g := range groups {
			for i := range es {
				es[i] = raftpb.Entry{Term: 1, Index: raftpb.Index(first + i), Data: data}
			}
			bt.Append(raftpb.GroupID(g), es)
			n += perRecord
		}
		if err := w.Commit(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// BenchmarkIndexSize reports the in-memory index's bytes per entry with
// 10,000 groups x 1,000 entries, with one entry per record (each round
// appends one entry per group: the worst case) and ten. Run once:
//
//	go test -run XXX -bench BenchmarkIndexSize -benchtime 1x ./wal/
func BenchmarkIndexSize(b *testing.B) {
	for _, perRecord := range []int{1, 10} {
		b.Run(fmt.Sprintf("entries-per-record=%d", perRecord), func(b *testing.B) {
			for range b.N {
				w, err := Open(Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				n := fillGroups(b, w, 10000, 1000, perRecord, 16)
				m := w.Metrics()
				b.ReportMetric(float64(m.IndexBytes)/float64(n), "index-bytes/entry")
				b.ReportMetric(float64(m.IndexBytes)/(1<<20), "index-MiB")
				w.Close()
			}
		})
	}
}

// BenchmarkRecovery writes about 1 GiB of log (128-byte entries, 10,000
// groups, one entry per group per round) and reports how long Open takes
// to rebuild the index from it. Run once:
//
//	go test -run XXX -bench BenchmarkRecovery -benchtime 1x -timeout 30m ./wal/
func BenchmarkRecovery(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		w, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		const groups, dataBytes = 10000, 128
		perGroup := (1 << 30) / (groups * (dataBytes + 14))
		fillGroups(b, w, groups, perGroup, 1, dataBytes)
		written := w.Metrics().BytesWritten
		w.Close()
		start := time.Now()
		w, err = Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		m := w.Metrics()
		w.Close()
		gib := float64(m.RecoveredBytes) / (1 << 30)
		b.ReportMetric(d.Seconds()/gib, "s/GiB")
		b.ReportMetric(gib, "GiB")
		b.ReportMetric(float64(written)/(1<<30), "GiB-written")
		b.ReportMetric(0, "ns/op")
	}
}
