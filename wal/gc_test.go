package wal

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// dirBytes sums the sizes of every file in the WAL's directory.
func dirBytes(t *testing.T, fs vfs.FS, dir string) int64 {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, name := range names {
		st, err := fs.Stat(fs.PathJoin(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// TestDiskBound: a group that never compacts, beside groups that append
// and compact all the time, cannot make the disk grow without bound:
// after every write the directory holds at most twice the live data plus
// the active segment, the spare, two segments and one rewrite chunk of
// slack (a rewrite in progress); the old group's entries survive the rewrites, also across a
// reopen. Run with live data below and above one segment.
func TestDiskBound(t *testing.T) {
	for _, seg := range []int64{128 << 10, 16 << 10} {
		t.Run(fmt.Sprintf("segment=%d", seg), func(t *testing.T) { testDiskBound(t, seg) })
	}
}

func testDiskBound(t *testing.T, seg int64) {
	mem := vfs.NewMem()
	opts := testOptions(mem)
	opts.SegmentBytes = seg
	w := openT(t, opts)
	rounds := 3000
	if testing.Short() {
		rounds = 1000
	}
	var pinned []raftpb.Entry
	next := make([]raftpb.Index, 10)
	for i := range next {
		next[i] = 1
	}
	var maxRatio float64
	for r := range rounds {
		b := w.NewBatch()
		if r%20 == 0 {
			e := ents(int(next[0]), 1, 1, 100)
			b.Append(0, e)
			pinned = append(pinned, e...)
			next[0]++
		}
		for g := 1; g < 10; g++ {
			b.Append(raftpb.GroupID(g), ents(int(next[g]), 2, 1, 200))
			next[g] += 2
			if next[g] > 30 {
				b.Compact(raftpb.GroupID(g), next[g]-21, 1)
			}
			b.SetHardState(raftpb.GroupID(g), raftpb.HardState{Term: 1, Commit: next[g] - 1})
		}
		if err := w.Commit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		m := w.Metrics()
		disk := dirBytes(t, mem, opts.Dir)
		// A rewrite chunk may overflow the segment it lands in.
		chunk := max(opts.SegmentBytes/8, 64<<10)
		bound := 2*m.LiveBytes + 4*opts.SegmentBytes + chunk
		if disk > bound {
			t.Fatalf("round %d: %d bytes on disk, live %d, bound %d (%+v)", r, disk, m.LiveBytes, bound, m)
		}
		maxRatio = max(maxRatio, float64(disk)/float64(m.LiveBytes))
	}
	m := w.Metrics()
	t.Logf("max disk/live %.2f; %+v", maxRatio, m)
	if m.SegmentsDeleted == 0 || m.RewrittenGroups == 0 {
		t.Fatalf("no segment was collected or no group rewritten: %+v", m)
	}
	checkEntries(t, w, 0, pinned)
	w.Close()
	w = openT(t, opts)
	defer w.Close()
	checkEntries(t, w, 0, pinned)
	for g := 1; g < 10; g++ {
		st, _ := w.GroupState(raftpb.GroupID(g))
		if st.LastIndex != next[g]-1 || st.HardState.Commit != next[g]-1 {
			t.Fatalf("group %d after reopen: %+v", g, st)
		}
	}
}
