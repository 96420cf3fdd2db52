package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	fvfs "github.com/flotilladb/flotilla/internal/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// faultAfter returns an injector that fails the first operation of kind
// on a segment file after arm() is called, with err.
func faultAfter(kind fvfs.OpKind, err error) (fvfs.Injector, func()) {
	var armed, fired atomic.Bool
	return func(op fvfs.Op) fvfs.Action {
		if armed.Load() && op.Kind == kind && op.Path != "/wal/"+spareName && !fired.Swap(true) {
			return fvfs.Action{Err: err}
		}
		return fvfs.Action{}
	}, func() { armed.Store(true) }
}

// TestFailStop: a failed write or a failed sync reaches every batch of the
// write, the WAL refuses every later batch with ErrFailed, never retries
// the sync, and keeps serving reads of what was durable.
func TestFailStop(t *testing.T) {
	for _, kind := range []fvfs.OpKind{fvfs.OpWrite, fvfs.OpSync} {
		t.Run(kind.String(), func(t *testing.T) {
			inj, arm := faultAfter(kind, fvfs.ErrInjected)
			var syncs atomic.Int64
			fs := fvfs.Wrap(vfs.NewMem(), func(op fvfs.Op) fvfs.Action {
				if op.Kind == fvfs.OpSync {
					syncs.Add(1)
				}
				return inj(op)
			})
			opts := testOptions(fs)
			opts.NoPreallocate = true
			var failed atomic.Pointer[error]
			opts.EventListener.Failed = func(err error) { failed.Store(&err) }
			w := openT(t, opts)
			defer w.Close()
			commit(t, w, func(b *Batch) { b.Append(1, ents(1, 3, 1, 10)) })
			arm()
			syncsBefore := syncs.Load()
			// Submit several batches; all of the write that fails must fail.
			var ps []Pending
			for g := range 4 {
				b := w.NewBatch()
				b.Append(raftpb.GroupID(10+g), ents(1, 1, 1, 10))
				ps = append(ps, w.Submit(b))
			}
			for i, p := range ps {
				if err := p.Wait(context.Background()); !errors.Is(err, ErrFailed) || !errors.Is(err, fvfs.ErrInjected) {
					t.Fatalf("batch %d: %v, want ErrFailed wrapping the injected error", i, err)
				}
			}
			b := w.NewBatch()
			b.Append(1, ents(4, 1, 1, 10))
			if err := w.Commit(context.Background(), b); !errors.Is(err, ErrFailed) {
				t.Fatalf("commit after failure: %v", err)
			}
			if failed.Load() == nil || w.Err() == nil {
				t.Fatal("Failed event not delivered or Err() nil")
			}
			if extra := syncs.Load() - syncsBefore; extra > 1 {
				t.Fatalf("%d syncs after the fault: a failed sync must never be retried", extra)
			}
			checkEntries(t, w, 1, ents(1, 3, 1, 10))
		})
	}
}

// TestDiskFull: ENOSPC is reported as ErrDiskFull (and fail-stops).
func TestDiskFull(t *testing.T) {
	inj, arm := faultAfter(fvfs.OpWrite, syscall.ENOSPC)
	opts := testOptions(fvfs.Wrap(vfs.NewMem(), inj))
	opts.NoPreallocate = true
	w := openT(t, opts)
	defer w.Close()
	arm()
	b := w.NewBatch()
	b.Append(1, ents(1, 1, 1, 10))
	err := w.Commit(context.Background(), b)
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, ErrFailed) {
		t.Fatalf("got %v, want ErrDiskFull", err)
	}
}

// TestDelayedSyncGroupsCommits: while one sync is slow, batches submitted
// meanwhile gather and go out together in the next write.
func TestDelayedSyncGroupsCommits(t *testing.T) {
	release := make(chan struct{})
	var blocked atomic.Bool
	entered := make(chan struct{}, 1)
	fs := fvfs.Wrap(vfs.NewMem(), func(op fvfs.Op) fvfs.Action {
		if op.Kind == fvfs.OpSync && blocked.CompareAndSwap(true, false) {
			entered <- struct{}{}
			<-release
		}
		return fvfs.Action{}
	})
	opts := testOptions(fs)
	opts.NoPreallocate = true
	w := openT(t, opts)
	defer w.Close()
	commit(t, w, func(b *Batch) { b.Append(1, ents(1, 1, 1, 10)) })
	blocked.Store(true)
	first := w.NewBatch()
	first.Append(1, ents(2, 1, 1, 10))
	p0 := w.Submit(first)
	<-entered // the writer is inside the slow sync
	before := w.Metrics().Fsyncs
	var ps []Pending
	for g := range 50 {
		b := w.NewBatch()
		b.Append(raftpb.GroupID(100+g), ents(1, 1, 1, 10))
		ps = append(ps, w.Submit(b))
	}
	close(release)
	for _, p := range append(ps, p0) {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The slow sync, then the 50 batches gathered meanwhile: the writer
	// may have split them over at most maxFlights-1 writes, and the syncer
	// makes whatever is written when it gets to it durable at once.
	if got := w.Metrics().Fsyncs - before; got < 2 || got > maxFlights {
		t.Fatalf("%d syncs for 1 slow + 50 gathered batches, want 2..%d", got, maxFlights)
	}
}

// TestCorruptionNamesFileAndOffset: a checksum failure in a synced record
// followed by later batches fails Open with a *CorruptionError naming the
// file and offset; a torn final record is cut off silently.
func TestCorruptionNamesFileAndOffset(t *testing.T) {
	mem := vfs.NewMem()
	opts := testOptions(mem)
	opts.NoPreallocate = true
	w := openT(t, opts)
	for i := range 10 {
		commit(t, w, func(b *Batch) { b.Append(1, ents(i+1, 1, 1, 30)) })
	}
	span := w.idx.groups[1].spans[3]
	last := w.idx.groups[1].spans[9]
	w.Close()
	path := "/wal/" + segName(span.seg)

	// Torn tail: garble the last record; Open succeeds without it.
	flip(t, mem, "/wal/"+segName(last.seg), int64(last.off)+headerSize+2)
	w = openT(t, opts)
	if li := w.LastIndex(1); li != 9 {
		t.Fatalf("after tearing the last record, last index %d, want 9", li)
	}
	w.Close()

	flip(t, mem, path, int64(span.off)+headerSize+2)
	_, err := Open(opts)
	var ce *CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v, want a CorruptionError", err)
	}
	if ce.File != segName(span.seg) || ce.Offset != int64(span.off) {
		t.Fatalf("corruption at %s:%d, want %s:%d", ce.File, ce.Offset, segName(span.seg), span.off)
	}
	t.Log(err)
}

func flip(t *testing.T, fs vfs.FS, path string, off int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommit: under concurrency, syncs are far fewer than batches,
// and a lone caller's batch is written at once (no delay timer).
func TestGroupCommit(t *testing.T) {
	w := openT(t, Options{Dir: t.TempDir()})
	defer w.Close()
	const submitters, per = 64, 40
	var wg sync.WaitGroup
	for s := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := w.NewBatch()
			for i := range per {
				b.Reset()
				b.Append(raftpb.GroupID(s), ents(i+1, 1, 1, 128))
				b.SetHardState(raftpb.GroupID(s), raftpb.HardState{Term: 1, Commit: raftpb.Index(i)})
				if err := w.Commit(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	m := w.Metrics()
	if m.Batches != submitters*per {
		t.Fatalf("batches %d", m.Batches)
	}
	if m.Fsyncs*4 > m.Batches {
		t.Fatalf("%d syncs for %d batches: group commit is not gathering", m.Fsyncs, m.Batches)
	}
	t.Logf("%d batches in %d syncs (%.1f per sync)", m.Batches, m.Fsyncs, float64(m.Batches)/float64(m.Fsyncs))
	for s := range submitters {
		checkEntries(t, w, raftpb.GroupID(s), ents(1, per, 1, 128))
	}
	// A lone caller: its batch costs one write+sync, and nothing waits for
	// company. Alternate lone commits with raw write+fdatasync calls on the
	// same disk and compare medians, so disk noise hits both alike.
	lone, raw := loneVersusRaw(t, w, 31)
	t.Logf("lone commit median %v, raw write+fdatasync median %v", lone, raw)
	// Generous against disk and CPU noise from a shared machine, yet far
	// below what any delay timer or wait-for-company scheme would cost.
	if lone > 3*raw+time.Millisecond {
		t.Fatalf("lone commit median %v, raw write+sync median %v: a lone caller waits for more than its own sync", lone, raw)
	}
}

// loneVersusRaw alternates n lone commits of one 128-byte entry with n
// raw 200-byte write+fdatasync calls and returns the two medians.
func loneVersusRaw(t *testing.T, w *WAL, n int) (lone, raw time.Duration) {
	f, err := vfs.Default.Create(t.TempDir()+"/raw", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 200)
	b := w.NewBatch()
	var ls, rs []time.Duration
	for i := range n {
		b.Reset()
		b.Append(9999, ents(i+1, 1, 1, 128))
		start := time.Now()
		if err := w.Commit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, time.Since(start))
		binary.LittleEndian.PutUint64(buf, uint64(i))
		start = time.Now()
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := f.SyncData(); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, time.Since(start))
	}
	slices.Sort(ls)
	slices.Sort(rs)
	return ls[n/2], rs[n/2]
}

// TestInvalidBatches: shape errors are reported per batch and leave the
// log and other batches of the same write untouched.
func TestInvalidBatches(t *testing.T) {
	w := openT(t, testOptions(vfs.NewMem()))
	defer w.Close()
	commit(t, w, func(b *Batch) { b.Append(1, ents(1, 5, 1, 10)); b.Compact(1, 2, 1) })
	cases := map[string]func(b *Batch){
		"gap":             func(b *Batch) { b.Append(1, ents(7, 1, 1, 10)) },
		"below compact":   func(b *Batch) { b.Append(1, ents(2, 1, 1, 10)) },
		"compact back":    func(b *Batch) { b.Compact(1, 1, 1) },
		"not consecutive": func(b *Batch) { b.Append(1, append(ents(6, 1, 1, 10), ents(8, 1, 1, 10)...)) },
		"fresh gap":       func(b *Batch) { b.Append(2, ents(3, 1, 1, 10)) },
	}
	for name, fill := range cases {
		good := w.NewBatch()
		good.Append(3, ents(int(w.LastIndex(3))+1, 1, 1, 10))
		bad := w.NewBatch()
		bad.Append(4, ents(int(w.LastIndex(4))+1, 1, 1, 10)) // valid part of an invalid batch
		fill(bad)
		pg, pb := w.Submit(good), w.Submit(bad)
		if err := pb.Wait(context.Background()); !errors.Is(err, ErrInvalidBatch) {
			t.Fatalf("%s: %v, want ErrInvalidBatch", name, err)
		}
		if err := pg.Wait(context.Background()); err != nil {
			t.Fatalf("%s: the valid batch beside it failed: %v", name, err)
		}
	}
	if li := w.LastIndex(4); li != 0 {
		t.Fatalf("invalid batches left group 4 at %d", li)
	}
	if st, _ := w.GroupState(1); st.FirstIndex != 3 || st.LastIndex != 5 {
		t.Fatalf("group 1 changed: %+v", st)
	}
}

// TestLostTailOfOlderSegment: damage to the last batch of a segment that
// is not the last one looks like a torn tail inside that segment, but the
// next segment starts at a later batch, so Open must report corruption
// (naming the damaged segment) rather than silently drop an acknowledged
// batch.
func TestLostTailOfOlderSegment(t *testing.T) {
	mem := vfs.NewMem()
	opts := testOptions(mem)
	opts.NoPreallocate = true
	opts.SegmentBytes = 4 << 10
	w := openT(t, opts)
	for i := range 40 {
		commit(t, w, func(b *Batch) { b.Append(1, ents(i+1, 1, 1, 300)) })
	}
	if len(w.wr.segNums) < 3 {
		t.Fatalf("only %d segments", len(w.wr.segNums))
	}
	first := w.wr.segNums[0]
	w.Close()
	name := segName(first)
	data := readFile(t, mem, "/wal/"+name)
	// The last record of the segment is its last batch's commit record.
	flip(t, mem, "/wal/"+name, int64(len(data)-3))
	_, err := Open(opts)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.File != name {
		t.Fatalf("open: %v, want corruption in %s", err, name)
	}
	t.Log(err)
}
