package wal

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	fvfs "github.com/flotilladb/flotilla/internal/vfs"
)

// BenchmarkRatio runs the WAL, pebble as a Raft log and the raw
// write+fdatasync loop in rotating bursts inside one benchmark, so that
// background load on a shared machine hits all three alike, and reports
// the median ratio over the bursts. Each iteration is one rotation
// (burstEntries entries through the WAL, the same through pebble, then the
// raw loop for as many syncs as the WAL's burst made, at its bytes per
// sync). Run:
//
//	go test -run XXX -bench BenchmarkRatio -benchtime 8x ./wal/
func BenchmarkRatio(b *testing.B) {
	for _, cfg := range []struct{ groups, submitters int }{{10000, 256}, {10000, 16}, {100, 256}} {
		b.Run(fmt.Sprintf("groups=%d/submitters=%d", cfg.groups, cfg.submitters), func(b *testing.B) {
			benchRatio(b, cfg.groups, cfg.submitters)
		})
	}
}

func benchRatio(b *testing.B, groups, s int) {
	burst := 300 * s
	w, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var syncs atomic.Int64
	db, err := pebble.Open(b.TempDir(), &pebble.Options{
		FS: fvfs.Wrap(vfs.Default, syncCounter(".log", &syncs)), FormatMajorVersion: pebble.FormatNewest,
		MemTableSize: 64 << 20, Logger: quietLogger{},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var vsPebble, vsRaw, perSync []float64
	walRun := newRunner(groups, s, func() worker { return &walWorker{w: w, b: w.NewBatch()} })
	pebRun := newRunner(groups, s, func() worker { return &pebbleWorker{db: db} })
	for range b.N {
		m0 := w.Metrics()
		wd := walRun.run(b, burst)
		m1 := w.Metrics()
		pd := pebRun.run(b, burst)
		walSyncs := m1.Fsyncs - m0.Fsyncs
		bytesPerSync := int((m1.BytesWritten - m0.BytesWritten) / max(walSyncs, 1))
		raw := benchRawN(b, bytesPerSync, int(walSyncs))
		vsPebble = append(vsPebble, pd.Seconds()/wd.Seconds())
		vsRaw = append(vsRaw, raw.Seconds()/wd.Seconds())
		perSync = append(perSync, float64(m1.Entries-m0.Entries)/float64(walSyncs))
	}
	b.ReportMetric(median(vsPebble), "wal/pebble-x")
	b.ReportMetric(100*median(vsRaw), "wal/raw-%")
	b.ReportMetric(median(perSync), "entries/fsync")
	b.ReportMetric(0, "ns/op")
	b.Logf("wal/pebble %v; wal/raw %v", vsPebble, vsRaw)
}

// runner keeps per-group index counters across bursts.
type runner struct {
	groups, s int
	mk        func() worker
	next      []uint64
}

func newRunner(groups, s int, mk func() worker) *runner {
	return &runner{groups: groups, s: s, mk: mk}
}

func (r *runner) run(b *testing.B, n int) time.Duration {
	d, _ := driveFrom(b, n, r.groups, r.s, r.mk, &r.next)
	return d
}

func median(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}
