package wal

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	fvfs "github.com/flotilladb/flotilla/internal/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// The comparison benchmark: 128-byte entries, one entry per submitted
// batch, G groups, S concurrent submitters; the same workload through the
// WAL, through pebble used as a Raft log (key = group, index; one synced
// batch per entry), and a raw write+fdatasync loop writing, per sync, as
// many bytes as the WAL wrote per sync (the disk's ceiling for that
// shape). Run:
//
//	go test -run XXX -bench BenchmarkCompare -benchtime 2s ./wal/
//
// Each sub-benchmark reports entries/s, MB/s (entry payload), fsyncs/s,
// entries/fsync and p50/p99 commit latency; the raw one reports how many
// entries/s it would carry at the WAL's entries per sync. The ratio lines
// are logged at the end of each configuration.

const benchEntryBytes = 128

// benchResult is one sub-benchmark's figures, kept to compute ratios.
type benchResult struct {
	entriesPerSec, fsyncsPerSec, entriesPerSync, bytesPerSync float64
	// ioBusy is the fraction of the run the writer spent in write+sync.
	ioBusy   float64
	p50, p99 time.Duration
}

func (r benchResult) report(b *testing.B) {
	b.ReportMetric(r.entriesPerSec, "entries/s")
	b.ReportMetric(r.entriesPerSec*benchEntryBytes/1e6, "MB/s")
	b.ReportMetric(r.fsyncsPerSec, "fsyncs/s")
	b.ReportMetric(r.entriesPerSync, "entries/fsync")
	b.ReportMetric(float64(r.p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
	if r.ioBusy > 0 {
		b.ReportMetric(100*r.ioBusy, "io-busy-%")
	}
	b.ReportMetric(0, "ns/op")
}

// worker is one submitter's state: submit queues one entry of group g at
// index idx (called with the group's lock held, so a group's entries reach
// the log in index order), wait blocks until it is durable.
type worker interface {
	submit(g raftpb.GroupID, idx raftpb.Index, data []byte)
	wait() error
}

// drive runs n entries from s workers over groups groups, round robin,
// and returns the elapsed time and every commit latency. The harness
// itself allocates nothing per entry.
func drive(b *testing.B, n, groups, s int, newWorker func() worker) (time.Duration, []time.Duration) {
	var next []uint64
	return driveFrom(b, n, groups, s, newWorker, &next)
}

// driveFrom is drive continuing each group's indexes from *nextIdx (which
// it creates if empty and updates), so bursts can resume a log.
func driveFrom(b *testing.B, n, groups, s int, newWorker func() worker, nextIdx *[]uint64) (time.Duration, []time.Duration) {
	type gstate struct {
		sync.Mutex
		next raftpb.Index
	}
	gs := make([]gstate, groups)
	for i := range gs {
		gs[i].next = 1
		if len(*nextIdx) == groups {
			gs[i].next = raftpb.Index((*nextIdx)[i])
		}
	}
	defer func() {
		*nextIdx = make([]uint64, groups)
		for i := range gs {
			(*nextIdx)[i] = uint64(gs[i].next)
		}
	}()
	lat := make([][]time.Duration, s)
	workers := make([]worker, s)
	for i := range workers {
		workers[i] = newWorker()
		lat[i] = make([]time.Duration, 0, n/s+1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range s {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, benchEntryBytes)
			wk := workers[w]
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				g := int(i) % groups
				binary.LittleEndian.PutUint64(data, uint64(i))
				t0 := time.Now()
				gs[g].Lock()
				idx := gs[g].next
				gs[g].next++
				wk.submit(raftpb.GroupID(g), idx, data)
				gs[g].Unlock()
				if err := wk.wait(); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return elapsed, slices.Concat(lat...)
}

// walWorker owns one Batch, reused for every entry, as a store worker
// would.
type walWorker struct {
	w  *WAL
	b  *Batch
	e  [1]raftpb.Entry
	pd Pending
}

func (k *walWorker) submit(g raftpb.GroupID, idx raftpb.Index, data []byte) {
	k.b.Reset()
	k.e[0] = raftpb.Entry{Term: 1, Index: idx, Data: data}
	k.b.Append(g, k.e[:])
	k.pd = k.w.Submit(k.b)
}

func (k *walWorker) wait() error { return k.pd.Wait(context.Background()) }

// pebbleWorker writes one synced pebble batch per entry the way a Raft
// log store on pebble would pipeline it (CockroachDB's raft log path):
// ApplyNoSyncWait inside the group's lock, so a group's entries are
// ordered, then SyncWait outside it, so pebble's own commit pipeline can
// group the syncs of concurrent submitters.
type pebbleWorker struct {
	db  *pebble.DB
	key [16]byte
	b   *pebble.Batch
	err error
}

func (k *pebbleWorker) submit(g raftpb.GroupID, idx raftpb.Index, data []byte) {
	binary.BigEndian.PutUint64(k.key[:], uint64(g))
	binary.BigEndian.PutUint64(k.key[8:], uint64(idx))
	k.b = k.db.NewBatch()
	_ = k.b.Set(k.key[:], data, nil)
	k.err = k.db.ApplyNoSyncWait(k.b, pebble.Sync)
}

func (k *pebbleWorker) wait() error {
	err := k.err
	if err == nil {
		err = k.b.SyncWait()
	}
	_ = k.b.Close()
	return err
}

// pebbleSyncWorker is the literal baseline: pebble used as a Raft
// log with one batch per entry committed with pebble.Sync inside the
// group's lock (key = group, index). pebble's commit pipeline still
// shares one WAL sync among concurrent committers of different groups,
// but a group's next entry waits for its previous one's sync.
type pebbleSyncWorker struct {
	db  *pebble.DB
	key [16]byte
	err error
}

func (k *pebbleSyncWorker) submit(g raftpb.GroupID, idx raftpb.Index, data []byte) {
	binary.BigEndian.PutUint64(k.key[:], uint64(g))
	binary.BigEndian.PutUint64(k.key[8:], uint64(idx))
	b := k.db.NewBatch()
	_ = b.Set(k.key[:], data, nil)
	k.err = b.Commit(pebble.Sync)
	_ = b.Close()
}

func (k *pebbleSyncWorker) wait() error { return k.err }

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// syncCounter counts syncs of files whose name contains sub.
func syncCounter(sub string, n *atomic.Int64) fvfs.Injector {
	return func(op fvfs.Op) fvfs.Action {
		if op.Kind == fvfs.OpSync && strings.Contains(op.Path, sub) {
			n.Add(1)
		}
		return fvfs.Action{}
	}
}

func benchWAL(b *testing.B, groups, s int) benchResult {
	w, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	elapsed, lat := drive(b, b.N, groups, s, func() worker { return &walWorker{w: w, b: w.NewBatch()} })
	b.StopTimer()
	m := w.Metrics()
	p50, p99 := percentiles(lat)
	return benchResult{
		entriesPerSec: float64(b.N) / elapsed.Seconds(), fsyncsPerSec: float64(m.Fsyncs) / elapsed.Seconds(),
		entriesPerSync: float64(m.Entries) / float64(m.Fsyncs), bytesPerSync: float64(m.BytesWritten) / float64(m.Fsyncs),
		p50: p50, p99: p99, ioBusy: m.SyncTime.Seconds() / elapsed.Seconds(),
	}
}

func benchPebble(b *testing.B, groups, s int) benchResult {
	var syncs atomic.Int64
	opts := &pebble.Options{
		FS:                 fvfs.Wrap(vfs.Default, syncCounter(".log", &syncs)),
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       64 << 20,
		Logger:             quietLogger{},
	}
	db, err := pebble.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	before := syncs.Load()
	b.ResetTimer()
	elapsed, lat := drive(b, b.N, groups, s, func() worker { return &pebbleWorker{db: db} })
	b.StopTimer()
	n := syncs.Load() - before
	p50, p99 := percentiles(lat)
	return benchResult{
		entriesPerSec: float64(b.N) / elapsed.Seconds(), fsyncsPerSec: float64(n) / elapsed.Seconds(),
		entriesPerSync: float64(b.N) / float64(max(n, 1)), p50: p50, p99: p99,
	}
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(string, ...any)        {}
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// benchRaw writes bytesPerSync bytes and fdatasyncs, b.N times, into a
// zero-filled 64 MiB file (the WAL's preallocated mode, the fastest), and
// reports syncs/s; entries/s is what that rate would carry at
// entriesPerSync entries per sync.
func benchRaw(b *testing.B, bytesPerSync int, entriesPerSync float64) benchResult {
	const fileBytes = 64 << 20
	f, err := vfs.Default.Create(b.TempDir()+"/raw", vfs.WriteCategoryUnspecified)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zeros := make([]byte, 1<<20)
	for off := 0; off < fileBytes; off += len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, max(bytesPerSync, 1))
	lat := make([]time.Duration, 0, b.N)
	off := int64(0)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		if off+int64(len(buf)) > fileBytes {
			off = 0
		}
		t0 := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		if err := f.SyncData(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		off += int64(len(buf))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	p50, p99 := percentiles(lat)
	syncsPerSec := float64(b.N) / elapsed.Seconds()
	return benchResult{entriesPerSec: syncsPerSec * entriesPerSync, fsyncsPerSec: syncsPerSec,
		entriesPerSync: entriesPerSync, bytesPerSync: float64(bytesPerSync), p50: p50, p99: p99}
}

// benchRawN times n write+fdatasync calls of bytesPerSync bytes into a
// zero-filled file and returns the elapsed time.
func benchRawN(b *testing.B, bytesPerSync, n int) time.Duration {
	f, err := vfs.Default.Create(b.TempDir()+"/raw", vfs.WriteCategoryUnspecified)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	size := int64(max(bytesPerSync, 1)) * int64(n+1)
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.Write(zeros); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, max(bytesPerSync, 1))
	start := time.Now()
	for i := range n {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		if _, err := f.WriteAt(buf, int64(i)*int64(len(buf))); err != nil {
			b.Fatal(err)
		}
		if err := f.SyncData(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func BenchmarkCompare(b *testing.B) {
	for _, groups := range []int{1, 100, 10000} {
		for _, s := range []int{1, 16, 256} {
			name := fmt.Sprintf("groups=%d/submitters=%d", groups, s)
			var wal, peb, raw benchResult
			b.Run(name+"/wal", func(b *testing.B) {
				wal = benchWAL(b, groups, s)
				wal.report(b)
			})
			b.Run(name+"/pebble", func(b *testing.B) {
				peb = benchPebble(b, groups, s)
				peb.report(b)
			})
			b.Run(name+"/raw", func(b *testing.B) {
				raw = benchRaw(b, int(wal.bytesPerSync), wal.entriesPerSync)
				raw.report(b)
			})
			b.Logf("RATIO %s: wal/pebble entries/s = %.2fx; wal/raw-ceiling = %.0f%% (at %.0f B and %.1f entries per sync); p99 wal %v pebble %v",
				name, wal.entriesPerSec/peb.entriesPerSec, 100*wal.fsyncsPerSec/raw.fsyncsPerSec, wal.bytesPerSync, wal.entriesPerSync, wal.p99, peb.p99)
		}
	}
}
