package wal

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func testOptions(fs vfs.FS) Options {
	return Options{Dir: "/wal", FS: fs, SegmentBytes: 64 << 10, CacheBytes: 8 << 10}
}

func openT(t testing.TB, opts Options) *WAL {
	t.Helper()
	w, err := Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return w
}

func ents(first, n int, term raftpb.Term, size int) []raftpb.Entry {
	out := make([]raftpb.Entry, n)
	for i := range out {
		idx := first + i
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(idx*7 + j)
		}
		out[i] = raftpb.Entry{Term: term, Index: raftpb.Index(idx), Data: data}
	}
	return out
}

func commit(t testing.TB, w *WAL, fill func(b *Batch)) {
	t.Helper()
	b := w.NewBatch()
	fill(b)
	if err := w.Commit(context.Background(), b); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func checkEntries(t testing.TB, w *WAL, g raftpb.GroupID, want []raftpb.Entry) {
	t.Helper()
	if len(want) == 0 {
		return
	}
	got, err := w.Entries(g, want[0].Index, want[len(want)-1].Index+1, 1<<62)
	if err != nil {
		t.Fatalf("group %d entries: %v", g, err)
	}
	if len(got) != len(want) {
		t.Fatalf("group %d: got %d entries, want %d", g, len(got), len(want))
	}
	for i := range got {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("group %d entry %d: got %d/%d/%q want %d/%d/%q", g, i, got[i].Index, got[i].Term, got[i].Data, want[i].Index, want[i].Term, want[i].Data)
		}
	}
}

func TestAppendReadReopen(t *testing.T) {
	fs := vfs.NewMem()
	w := openT(t, testOptions(fs))
	a := ents(1, 10, 1, 100)
	b := ents(1, 5, 2, 2000) // compressible and above the threshold
	commit(t, w, func(bt *Batch) {
		bt.Append(1, a)
		bt.Append(2, b)
		bt.SetHardState(1, raftpb.HardState{Term: 1, Vote: 3, Commit: 4})
	})
	checkEntries(t, w, 1, a)
	checkEntries(t, w, 2, b)
	if hs := w.HardState(1); hs != (raftpb.HardState{Term: 1, Vote: 3, Commit: 4}) {
		t.Fatalf("hard state %+v", hs)
	}
	// Overwrite the tail of group 1 with a new term.
	a2 := ents(6, 3, 2, 50)
	commit(t, w, func(bt *Batch) { bt.Append(1, a2) })
	want := append(append([]raftpb.Entry{}, a[:5]...), a2...)
	checkEntries(t, w, 1, want)
	if li := w.LastIndex(1); li != 8 {
		t.Fatalf("last index %d", li)
	}
	for i, wantT := range map[raftpb.Index]raftpb.Term{1: 1, 5: 1, 6: 2, 8: 2} {
		if tm, err := w.Term(1, i); err != nil || tm != wantT {
			t.Fatalf("term(%d) = %d, %v", i, tm, err)
		}
	}
	commit(t, w, func(bt *Batch) { bt.Compact(1, 3, 1) })
	if _, err := w.Entries(1, 3, 5, 1<<30); !errors.Is(err, ErrCompacted) {
		t.Fatalf("entries below compaction: %v", err)
	}
	if tm, err := w.Term(1, 3); err != nil || tm != 1 {
		t.Fatalf("term at compaction point = %d, %v", tm, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openT(t, testOptions(fs))
	defer w.Close()
	checkEntries(t, w, 1, want[3:])
	checkEntries(t, w, 2, b)
	st, ok := w.GroupState(1)
	if !ok || st.FirstIndex != 4 || st.LastIndex != 8 || st.CompactTerm != 1 || st.HardState.Vote != 3 {
		t.Fatalf("state after reopen %+v", st)
	}
}

func raftpbGroup(g uint64) raftpb.GroupID { return raftpb.GroupID(g) }
