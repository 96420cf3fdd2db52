package wal

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// keepFS keeps a copy (name + ".kept") of every segment it removes, so a
// test can put one back as if the process had crashed before deleting it.
type keepFS struct{ vfs.FS }

func (fs keepFS) Remove(name string) error {
	if strings.HasSuffix(name, segSuffix) {
		if err := vfs.Copy(fs.FS, name, name+".kept"); err != nil {
			return err
		}
	}
	return fs.FS.Remove(name)
}

// floorWAL writes until the collector has deleted a segment (group 0
// holds a few pinned entries that the rewrites carry forward), then
// until two more segments hold group 2's entries, and closes the WAL. It
// returns the live segments' numbers.
func floorWAL(t *testing.T, opts Options) []uint32 {
	t.Helper()
	w := openT(t, opts)
	next := raftpb.Index(1)
	for r := 0; w.Metrics().SegmentsDeleted < 1; r++ {
		if r > 20000 {
			t.Fatal("no segment was collected")
		}
		commit(t, w, func(b *Batch) {
			if r < 5 {
				b.Append(0, ents(r+1, 1, 1, 100))
			}
			b.Append(1, ents(int(next), 4, 1, 500))
			next += 4
			if next > 60 {
				b.Compact(1, next-60, 1) // about two segments of live entries
			}
		})
	}
	// Then a group that does not compact: its history spans the next
	// segments, which must all stay.
	created := w.Metrics().SegmentsCreated
	for w.Metrics().SegmentsCreated < created+2 {
		commit(t, w, func(b *Batch) {
			b.Append(2, ents(int(w.LastIndex(2))+1, 4, 1, 500))
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	nums := segNums(t, opts)
	if len(nums) < 2 || nums[0] == 1 {
		t.Fatalf("segments %v: want at least two, the first ones collected", nums)
	}
	return nums
}

// segNums lists the segment files in opts.Dir, in order.
func segNums(t *testing.T, opts Options) []uint32 {
	t.Helper()
	names, err := opts.FS.List(opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var nums []uint32
	for _, n := range names {
		if num, ok := parseSegName(n); ok {
			nums = append(nums, num)
		}
	}
	slices.Sort(nums)
	return nums
}

// TestMissingOldestSegment: a directory that lost its oldest live segment
// (deleted by hand) fails to open with a corruption error naming the
// missing segment; it used to open and silently lose the live entries in
// it. Segments the collector deleted do not count as missing, and one it
// was about to delete when the process stopped (put back here) is no
// corruption either.
func TestMissingOldestSegment(t *testing.T) {
	t.Run("intact", func(t *testing.T) {
		opts := testOptions(vfs.NewMem())
		opts.SegmentBytes = 16 << 10
		floorWAL(t, opts)
		w := openT(t, opts)
		defer w.Close()
		if got, err := w.Entries(0, 1, 6, 1<<20); err != nil || len(got) != 5 {
			t.Fatalf("pinned entries after reopen: %d, %v", len(got), err)
		}
	})
	t.Run("oldest deleted by hand", func(t *testing.T) {
		opts := testOptions(vfs.NewMem())
		opts.SegmentBytes = 16 << 10
		nums := floorWAL(t, opts)
		if err := opts.FS.Remove(opts.FS.PathJoin(opts.Dir, segName(nums[0]))); err != nil {
			t.Fatal(err)
		}
		_, err := Open(opts)
		var ce *CorruptionError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.File != segName(nums[1]) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("open without %s: %v; want a corruption error saying the segments before %s are missing", segName(nums[0]), err, segName(nums[1]))
		}
	})
	t.Run("collected one put back", func(t *testing.T) {
		fs := keepFS{vfs.NewMem()}
		opts := testOptions(fs)
		opts.SegmentBytes = 16 << 10
		nums := floorWAL(t, opts)
		last := opts.FS.PathJoin(opts.Dir, segName(nums[0]-1))
		if err := fs.FS.Rename(last+".kept", last); err != nil {
			t.Fatal(err)
		}
		w := openT(t, opts)
		defer w.Close()
		if got, err := w.Entries(0, 1, 6, 1<<20); err != nil || len(got) != 5 {
			t.Fatalf("pinned entries after reopen: %d, %v", len(got), err)
		}
	})
}
