package wal

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestConcurrentReadsDuringCollection: readers run against writers whose
// appends and compactions make the WAL rotate, rewrite and delete
// segments. Every read either fails with ErrCompacted/ErrUnavailable (the
// log moved on) or returns exactly the bytes written; a segment deleted
// under a reader stays readable until its last reader lets go. Run it
// with -race.
func TestConcurrentReadsDuringCollection(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.SegmentBytes = 16 << 10
	opts.CacheBytes = 2 << 10
	w := openT(t, opts)
	defer w.Close()
	const groups = 4
	rounds := 600
	if testing.Short() {
		rounds = 200
	}
	var done atomic.Bool
	var reads, hits atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !done.Load(); i++ {
				g := raftpb.GroupID(i % groups)
				st, ok := w.GroupState(g)
				if !ok || st.LastIndex < st.FirstIndex {
					continue
				}
				got, err := w.Entries(g, st.FirstIndex, st.LastIndex+1, 1<<30)
				reads.Add(1)
				if errors.Is(err, ErrCompacted) || errors.Is(err, ErrUnavailable) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range got {
					want := ents(int(e.Index), 1, 1, 90)[0]
					if string(e.Data) != string(want.Data) {
						t.Errorf("group %d entry %d: wrong data", g, e.Index)
						return
					}
				}
				hits.Add(1)
			}
		}()
	}
	next := make([]int, groups)
	for r := range rounds {
		b := w.NewBatch()
		for g := range groups {
			b.Append(raftpb.GroupID(g), ents(next[g]+1, 3, 1, 90))
			next[g] += 3
			if g > 0 && next[g] > 30 {
				b.Compact(raftpb.GroupID(g), raftpb.Index(next[g]-20), 1)
			}
		}
		if err := w.Commit(context.Background(), b); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	done.Store(true)
	wg.Wait()
	m := w.Metrics()
	if m.SegmentsDeleted == 0 || hits.Load() == 0 {
		t.Fatalf("no collection (%d deleted) or no successful read (%d of %d)", m.SegmentsDeleted, hits.Load(), reads.Load())
	}
	t.Logf("%d reads, %d full; %+v", reads.Load(), hits.Load(), m)
}
