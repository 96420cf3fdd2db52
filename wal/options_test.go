package wal

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func TestOptions(t *testing.T) {
	var o Options
	if err := o.EnsureDefaults().Validate(); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("missing Dir: %v", err)
	}
	o = Options{Dir: "/x"}
	o.EnsureDefaults()
	if o.SegmentBytes != DefaultSegmentBytes || o.CompressThreshold != DefaultCompressThreshold ||
		o.CacheBytes != DefaultCacheBytes || o.FS == nil || o.Logger == nil {
		t.Fatalf("defaults not applied: %s", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Options{
		{Dir: "/x", SegmentBytes: 100},
		{Dir: "/x", SegmentBytes: 2 << 30},
		{Dir: "/x", CompressThreshold: -2},
		{Dir: "/x", CacheBytes: -5},
	} {
		if err := bad.EnsureDefaults().Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if !strings.Contains(o.String(), "SegmentBytes: 67108864") {
		t.Fatalf("String: %s", o)
	}
	if _, err := Open(Options{Dir: "/x", FS: vfs.NewMem(), SegmentBytes: 1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open with bad options: %v", err)
	}
}

// TestCompression: payloads above the threshold are stored compressed,
// smaller ones raw, and -1 disables compression.
func TestCompression(t *testing.T) {
	for _, tc := range []struct {
		threshold, size int
		want            bool
	}{{512, 100, false}, {512, 2000, true}, {-1, 2000, false}, {100, 300, true}} {
		b := &Batch{threshold: tc.threshold}
		b.Append(1, ents(1, 1, 1, tc.size))
		typ, p, _, ok := parseRecord(b.buf, 0)
		if !ok {
			t.Fatal("record does not parse")
		}
		if got := typ&flagCompressed != 0; got != tc.want {
			t.Fatalf("threshold %d size %d: compressed %v", tc.threshold, tc.size, got)
		}
		plain, _, err := plainPayload(typ, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := decodeEntriesHeader(plain)
		if err != nil || h.group != 1 || h.first != 1 || h.count != 1 {
			t.Fatalf("header %+v, %v", h, err)
		}
	}
	// Through the WAL: a compressible entry reads back identical, also
	// after a reopen (pread path).
	mem := vfs.NewMem()
	w := openT(t, testOptions(mem))
	big := ents(1, 3, 1, 5000)
	commit(t, w, func(b *Batch) { b.Append(raftpb.GroupID(5), big) })
	checkEntries(t, w, 5, big)
	w.Close()
	w = openT(t, testOptions(mem))
	defer w.Close()
	checkEntries(t, w, 5, big)
	if w.Metrics().Preads == 0 {
		t.Fatal("expected a pread after reopen")
	}
}

// TestBatchAllocs: once a Batch's buffers have grown, encoding a round of
// many groups' entries and hard states allocates nothing.
func TestBatchAllocs(t *testing.T) {
	b := &Batch{threshold: DefaultCompressThreshold}
	es := ents(1, 3, 1, 128)
	big := ents(1, 1, 1, 4000)
	fill := func() {
		b.Reset()
		for g := range 100 {
			b.Append(raftpb.GroupID(g), es)
			b.SetHardState(raftpb.GroupID(g), raftpb.HardState{Term: 1, Commit: 3})
		}
		b.Append(1000, big) // compressed
	}
	fill()
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Fatalf("%.1f allocations per round of 100 groups", n)
	}
}
