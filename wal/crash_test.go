package wal

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	fvfs "github.com/flotilladb/flotilla/internal/vfs"
)

// crashWorkload is a fixed sequence of batches and the model after each
// prefix of it: states[i] is the log after batches[:i].
type crashWorkload struct {
	batches []*Batch
	states  []model
}

func newCrashWorkload(seed uint64, n int) crashWorkload {
	r := rand.New(rand.NewPCG(seed, 3))
	md := model{}
	wl := crashWorkload{states: []model{md.clone()}}
	for range n {
		b := &Batch{threshold: DefaultCompressThreshold}
		genBatch(r, b, md, 6, 5)
		wl.batches = append(wl.batches, b)
		wl.states = append(wl.states, md.clone())
	}
	return wl
}

// crashOptions: tiny segments so the workload rotates, rewrites and
// deletes segments; no background preallocation so the sequence of file
// system operations is the same on every run.
func crashOptions(fs vfs.FS) Options {
	return Options{Dir: "/wal", FS: fs, SegmentBytes: 4 << 10, CacheBytes: 1 << 10, NoPreallocate: true}
}

// runUntilCrash commits the workload's batches one by one and returns how
// many were acknowledged before the first failure.
func runUntilCrash(t *testing.T, fs vfs.FS, wl crashWorkload) int {
	return runUntilCrashOpts(t, crashOptions(fs), wl)
}

func runUntilCrashOpts(t *testing.T, opts Options, wl crashWorkload) int {
	t.Helper()
	w, err := Open(opts)
	if err != nil {
		return 0 // crashed during Open: nothing acknowledged
	}
	defer w.Close()
	for i, b := range wl.batches {
		if err := w.Commit(context.Background(), b); err != nil {
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("batch %d failed with %v, want ErrFailed", i, err)
			}
			if err := w.Commit(context.Background(), b); !errors.Is(err, ErrFailed) {
				t.Fatalf("after a failure a commit returned %v, want ErrFailed (fail-stop)", err)
			}
			return i
		}
	}
	return len(wl.batches)
}

// TestCrashPoints crashes a fixed workload at every file-system operation
// (each write, sync, create, rename and remove), either dropping all
// unsynced data, keeping a random part of it, or tearing the crashing
// write at a random byte and keeping it. After recovery the WAL must hold
// every acknowledged batch and, of the batch in flight, all or nothing.
func TestCrashPoints(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 4))
	n := 150
	if testing.Short() {
		n = 50
	}
	wl := newCrashWorkload(seed, n)
	probe := fvfs.Wrap(vfs.NewCrashableMem(), nil)
	if acked := runUntilCrash(t, probe, wl); acked != n {
		t.Fatalf("fault-free run acknowledged %d of %d", acked, n)
	}
	total := probe.Ops()
	checked := 0
	for at := range total {
		for variant := range 3 {
			tear := r.IntN(4096)
			mem := vfs.NewCrashableMem()
			fs := fvfs.Wrap(mem, func(op fvfs.Op) fvfs.Action {
				if op.Seq != at {
					return fvfs.Action{}
				}
				return fvfs.Action{Crash: true, TearBytes: tear}
			})
			acked := runUntilCrash(t, fs, wl)
			pct := []int{0, 50, 100}[variant]
			clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(r.Uint64(), 5))})
			w, err := Open(crashOptions(clone))
			if err != nil {
				t.Fatalf("crash at op %d (variant %d, %d acked): reopen: %v", at, variant, acked, err)
			}
			err = diffModel(w, wl.states[acked])
			if err != nil && acked < n {
				if err2 := diffModel(w, wl.states[acked+1]); err2 == nil {
					err = nil
				}
			}
			w.Close()
			if err != nil {
				t.Fatalf("crash at op %d of %d (variant %d, tear %d, %d acked): %v", at, total, variant, tear, acked, err)
			}
			checked++
		}
	}
	t.Logf("seed %d: %d crash points over %d operations", seed, checked, total)
}

// TestCrashConcurrent crashes while many goroutines submit at once, so
// several batches are in flight in one write; each may be recovered whole
// or not at all, never in part, and every acknowledged one must be there.
func TestCrashConcurrent(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 6))
	rounds := 20
	if testing.Short() {
		rounds = 6
	}
	for round := range rounds {
		mem := vfs.NewCrashableMem()
		crashAt := uint64(10 + r.IntN(60))
		fs := fvfs.Wrap(mem, func(op fvfs.Op) fvfs.Action {
			if op.Seq == crashAt {
				return fvfs.Action{Crash: true, TearBytes: 100}
			}
			return fvfs.Action{}
		})
		w := openT(t, crashOptions(fs))
		const submitters = 8
		acked := make([][]int, submitters)
		var wg sync.WaitGroup
		for s := range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					b := w.NewBatch()
					g := uint64(s)
					b.Append(raftpbGroup(g), ents(i+1, 1, 1, 40))
					if err := w.Commit(context.Background(), b); err != nil {
						return
					}
					acked[s] = append(acked[s], i+1)
				}
			}()
		}
		wg.Wait()
		w.Close()
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(r.Uint64(), 7))})
		w2 := openT(t, crashOptions(clone))
		for s := range submitters {
			last := w2.LastIndex(raftpbGroup(uint64(s)))
			n := len(acked[s])
			if int(last) != n && int(last) != n+1 {
				t.Fatalf("round %d: group %d recovered last index %d, but %d were acknowledged", round, s, last, n)
			}
			if last > 0 {
				checkEntries(t, w2, raftpbGroup(uint64(s)), ents(1, int(last), 1, 40))
			}
		}
		w2.Close()
		total := 0
		for _, a := range acked {
			total += len(a)
		}
		if total == 0 {
			t.Fatalf("round %d: nothing acknowledged before the crash at op %d", round, crashAt)
		}
	}
}

// TestCrashPointsPreallocated crashes at random operations with segment
// preallocation on: the background preparer's writes, syncs and renames
// interleave with the log's own, so operation numbers differ between runs
// and the crash points are drawn at random rather than enumerated.
func TestCrashPointsPreallocated(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 10))
	n, trials := 120, 60
	if testing.Short() {
		n, trials = 60, 20
	}
	wl := newCrashWorkload(seed, n)
	for trial := range trials {
		at := uint64(r.IntN(400))
		tear := r.IntN(4096)
		mem := vfs.NewCrashableMem()
		fs := fvfs.Wrap(mem, func(op fvfs.Op) fvfs.Action {
			if op.Seq != at {
				return fvfs.Action{}
			}
			return fvfs.Action{Crash: true, TearBytes: tear}
		})
		opts := crashOptions(fs)
		opts.NoPreallocate = false
		acked := runUntilCrashOpts(t, opts, wl)
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: r.IntN(101), RNG: rand.New(rand.NewPCG(r.Uint64(), 11))})
		opts.FS = clone
		w, err := Open(opts)
		if err != nil {
			t.Fatalf("trial %d, crash at op %d (%d acked): reopen: %v", trial, at, acked, err)
		}
		err = diffModel(w, wl.states[acked])
		if err != nil && acked < n {
			if diffModel(w, wl.states[acked+1]) == nil {
				err = nil
			}
		}
		w.Close()
		if err != nil {
			t.Fatalf("trial %d, crash at op %d (%d acked): %v", trial, at, acked, err)
		}
	}
}
