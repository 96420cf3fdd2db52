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

// BenchmarkRatio runs the WAL, pebble as a Raft log (two ways) and the raw
// write+fdatasync loop in rotating bursts inside one benchmark, so that
// background load on a shared machine hits all alike, and reports the
// median ratio over the bursts. Each iteration is one rotation: 300 x
// submitters entries through the WAL, at once the raw loop for as many
// syncs as the WAL's burst made at its bytes per sync (right after it, as
// the disk's speed drifts over seconds on a shared machine), then the
// same entries through each pebble variant. The two pebble baselines:
//
//   - pebble (pipelined, the stronger one): ApplyNoSyncWait under the
//     group's lock, SyncWait outside it, as CockroachDB writes its Raft
//     log (pebbleWorker);
//   - pebble-sync (the literal baseline): one batch per entry
//     committed with pebble.Sync under the group's lock
//     (pebbleSyncWorker).
//
// Run:
//
//	go test -run XXX -bench BenchmarkRatio -benchtime 8x ./wal/
func BenchmarkRatio(b *testing.B) {
	for _, cfg := range []struct{ groups, submitters int }{{10000, 256}, {10000, 16}, {100, 256}} {
		b.Run(fmt.Sprintf("groups=%d/submitters=%d", cfg.groups, cfg.submitters), func(b *testing.B) {
			benchRatio(b, cfg.groups, cfg.submitters)
		})
	}
}

// ratioPebble is one pebble baseline in BenchmarkRatio: its database,
// sync counter and runner.
type ratioPebble struct {
	db    *pebble.DB
	syncs atomic.Int64
	run   *runner
}

func openRatioPebble(b *testing.B, groups, s int, mk func(db *pebble.DB) worker) *ratioPebble {
	p := &ratioPebble{}
	db, err := pebble.Open(b.TempDir(), &pebble.Options{
		FS: fvfs.Wrap(vfs.Default, syncCounter(".log", &p.syncs)), FormatMajorVersion: pebble.FormatNewest,
		MemTableSize: 64 << 20, Logger: quietLogger{},
	})
	if err != nil {
		b.Fatal(err)
	}
	p.db = db
	p.run = newRunner(groups, s, func() worker { return mk(db) })
	return p
}

// burst runs n entries and returns the elapsed time and the syncs made.
func (p *ratioPebble) burst(b *testing.B, n int) (time.Duration, int64) {
	s0 := p.syncs.Load()
	d := p.run.run(b, n)
	return d, p.syncs.Load() - s0
}

func benchRatio(b *testing.B, groups, s int) {
	burst := 300 * s
	w, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	pip := openRatioPebble(b, groups, s, func(db *pebble.DB) worker { return &pebbleWorker{db: db} })
	defer pip.db.Close()
	lit := openRatioPebble(b, groups, s, func(db *pebble.DB) worker { return &pebbleSyncWorker{db: db} })
	defer lit.db.Close()
	var vsPebble, vsSync, vsRaw, perSync, walFsyncs, pebFsyncs, pebPerSync, litFsyncs, litPerSync []float64
	walRun := newRunner(groups, s, func() worker { return &walWorker{w: w, b: w.NewBatch()} })
	for range b.N {
		m0 := w.Metrics()
		wd := walRun.run(b, burst)
		m1 := w.Metrics()
		walSyncs := m1.Fsyncs - m0.Fsyncs
		bytesPerSync := int((m1.BytesWritten - m0.BytesWritten) / max(walSyncs, 1))
		raw := benchRawN(b, bytesPerSync, int(walSyncs))
		pd, pn := pip.burst(b, burst)
		ld, ln := lit.burst(b, burst)
		vsPebble = append(vsPebble, pd.Seconds()/wd.Seconds())
		vsSync = append(vsSync, ld.Seconds()/wd.Seconds())
		vsRaw = append(vsRaw, raw.Seconds()/wd.Seconds())
		perSync = append(perSync, float64(m1.Entries-m0.Entries)/float64(walSyncs))
		walFsyncs = append(walFsyncs, float64(walSyncs)/wd.Seconds())
		pebFsyncs = append(pebFsyncs, float64(pn)/pd.Seconds())
		pebPerSync = append(pebPerSync, float64(burst)/float64(max(pn, 1)))
		litFsyncs = append(litFsyncs, float64(ln)/ld.Seconds())
		litPerSync = append(litPerSync, float64(burst)/float64(max(ln, 1)))
	}
	b.ReportMetric(median(vsPebble), "wal/pebble-x")
	b.ReportMetric(median(vsSync), "wal/pebble-sync-x")
	b.ReportMetric(100*median(vsRaw), "wal/raw-%")
	b.ReportMetric(median(perSync), "entries/fsync")
	b.ReportMetric(median(walFsyncs), "wal-fsyncs/s")
	b.ReportMetric(median(pebFsyncs), "pebble-fsyncs/s")
	b.ReportMetric(median(pebPerSync), "pebble-entries/fsync")
	b.ReportMetric(median(litFsyncs), "pebble-sync-fsyncs/s")
	b.ReportMetric(median(litPerSync), "pebble-sync-entries/fsync")
	b.ReportMetric(0, "ns/op")
	b.Logf("wal/pebble %.2f; wal/pebble-sync %.2f; wal/raw %.2f", vsPebble, vsSync, vsRaw)
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
