package wal

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestReads: the read API's bounds, maxBytes, and both sources (the tail
// cache for recent records, pread for older ones) give the same bytes.
func TestReads(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.CacheBytes = 2 << 10
	w := openT(t, opts)
	defer w.Close()
	all := ents(1, 40, 3, 100)
	for i := 0; i < 40; i += 4 {
		commit(t, w, func(b *Batch) { b.Append(1, all[i:i+4]) })
	}
	before := w.Metrics()
	checkEntries(t, w, 1, all) // old records by pread, recent ones from the cache
	after := w.Metrics()
	if after.Preads == before.Preads || after.CacheHits == before.CacheHits {
		t.Fatalf("expected both preads and cache hits: %+v", after)
	}
	// maxBytes: each entry is 100 bytes + 12 overhead; 250 allows two.
	got, err := w.Entries(1, 5, 20, 250)
	if err != nil || len(got) != 2 || got[0].Index != 5 {
		t.Fatalf("maxBytes: %d entries, %v", len(got), err)
	}
	// At least one entry, even if it alone exceeds maxBytes.
	if got, err := w.Entries(1, 5, 20, 1); err != nil || len(got) != 1 {
		t.Fatalf("maxBytes 1: %d entries, %v", len(got), err)
	}
	if _, err := w.Entries(1, 1, 42, 1<<20); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("beyond last: %v", err)
	}
	if _, err := w.Term(1, 41); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("term beyond last: %v", err)
	}
	if got, err := w.Entries(1, 3, 3, 1<<20); err != nil || len(got) != 0 {
		t.Fatalf("empty range: %v %v", got, err)
	}
	// A returned entry's data does not alias the WAL's buffers.
	got, _ = w.Entries(1, 40, 41, 1<<20)
	got[0].Data[0] ^= 0xff
	checkEntries(t, w, 1, all[39:])
	// Unknown groups look like an empty log.
	if w.FirstIndex(99) != 1 || w.LastIndex(99) != 0 || !w.HardState(99).IsEmpty() {
		t.Fatal("unknown group is not an empty log")
	}
	if tm, err := w.Term(99, 0); err != nil || tm != 0 {
		t.Fatalf("term(0) of unknown group: %d %v", tm, err)
	}
	if _, ok := w.GroupState(99); ok {
		t.Fatal("unknown group reported as present")
	}
	if ids := w.Groups(); len(ids) != 1 || ids[0] != raftpb.GroupID(1) {
		t.Fatalf("groups %v", ids)
	}
}
