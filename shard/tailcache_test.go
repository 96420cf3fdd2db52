package shard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/wal"
)

// TestTailMatchesWAL drives one replica's storage through random rounds
// (appends, appends that replace a suffix, compactions, snapshots,
// applies, quiescence) over a real WAL, and checks after every round that
// every Term and Entries answer is the WAL's own, and that slices handed
// out earlier were never written over.
func TestTailMatchesWAL(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testTailMatchesWAL(t, seed) })
	}
}

// handedOut is a slice the storage returned, with a copy of what it held.
type handedOut struct {
	got, want []raftpb.Entry
}

func testTailMatchesWAL(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	w, err := wal.Open(wal.Options{Dir: "wal", FS: vfs.NewMem(), NoPreallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const id = ShardID(1)
	commit := func(f func(b *wal.Batch)) {
		b := w.NewBatch()
		f(b)
		if err := w.Commit(context.Background(), b); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	commit(func(b *wal.Batch) { b.Compact(id, 1, 1) })
	s := newRaftStorage(w, &replica{id: id})
	term := raftpb.Term(1)
	var kept []handedOut
	for step := 0; step < 300; step++ {
		var ents []raftpb.Entry
		snap := false
		switch op := rng.IntN(10); {
		case op < 6: // entries after the last, or replacing a suffix
			at := s.last + 1
			if op == 0 && s.last > s.first {
				at = s.first + 1 + raftpb.Index(rng.IntN(int(s.last-s.first)))
				term++
			}
			ents = randomEntries(rng, at, term, 1+rng.IntN(8))
			commit(func(b *wal.Batch) { b.Append(id, ents) })
		case op < 8: // a compaction below the last
			if s.last > s.first {
				i := s.first + raftpb.Index(rng.IntN(int(s.last-s.first)))
				tm, err := w.Term(id, i)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				commit(func(b *wal.Batch) { b.Compact(id, i, tm) })
			}
		case op < 9: // a snapshot past the log, then entries
			snap, term = true, term+1
			i := s.last + raftpb.Index(1+rng.IntN(5))
			ents = randomEntries(rng, i+1, term, rng.IntN(3))
			commit(func(b *wal.Batch) {
				b.Compact(id, i, term)
				if len(ents) > 0 {
					b.Append(id, ents)
				}
			})
		default: // quiescence
			s.dropTail()
		}
		s.refresh()
		s.appended(ents, snap)
		if rng.IntN(3) == 0 && s.last >= s.first {
			s.trimTail(s.first + raftpb.Index(rng.IntN(int(s.last-s.first+1))))
		}
		kept = checkTail(t, seed, rng, w, s, kept)
	}
}

func randomEntries(rng *rand.Rand, at raftpb.Index, term raftpb.Term, n int) []raftpb.Entry {
	ents := make([]raftpb.Entry, n)
	for i := range ents {
		data := make([]byte, rng.IntN(40))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		ents[i] = raftpb.Entry{Index: at + raftpb.Index(i), Term: term, Data: data}
	}
	return ents
}

// checkTail compares every answer of s with the WAL's, and the slices
// handed out so far with their copies; it returns the slices to keep
// watching.
func checkTail(t *testing.T, seed uint64, rng *rand.Rand, w *wal.WAL, s *raftStorage, kept []handedOut) []handedOut {
	t.Helper()
	id := s.r.id
	if st, _ := w.GroupState(id); st.FirstIndex != s.first || st.LastIndex != s.last {
		t.Fatalf("seed %d: storage bounds [%d, %d], WAL [%d, %d]", seed, s.first, s.last, st.FirstIndex, st.LastIndex)
	}
	if len(s.tail) > 0 && (s.tail[0].Index < s.first || s.tail[len(s.tail)-1].Index != s.last) {
		t.Fatalf("seed %d: tail [%d, %d] outside the log [%d, %d]", seed, s.tail[0].Index, s.tail[len(s.tail)-1].Index, s.first, s.last)
	}
	for i := s.first - 1; i <= s.last+1; i++ {
		got, gerr := s.Term(i)
		want, werr := w.Term(id, i)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("seed %d: Term(%d) = %d, %v; WAL %d, %v", seed, i, got, gerr, want, werr)
		}
	}
	for range 20 {
		lo := s.first + raftpb.Index(rng.IntN(int(s.last-s.first+2)))
		hi := lo + raftpb.Index(rng.IntN(int(s.last-lo+2)))
		maxBytes := uint64(rng.IntN(400))
		got, gerr := s.Entries(lo, hi, maxBytes)
		want, werr := w.Entries(id, lo, hi, maxBytes)
		if gerr != nil || werr != nil || !entriesEqual(got, want) {
			t.Fatalf("seed %d: Entries(%d, %d, %d) = %v, %v; WAL %v, %v", seed, lo, hi, maxBytes, got, gerr, want, werr)
		}
		if len(got) > 0 && rng.IntN(4) == 0 {
			kept = append(kept, handedOut{got: got, want: slices.Clone(want)})
		}
	}
	for _, h := range kept {
		if !entriesEqual(h.got, h.want) {
			t.Fatalf("seed %d: a slice handed out was written over: %v, was %v", seed, h.got, h.want)
		}
	}
	if len(kept) > 50 {
		kept = kept[len(kept)-50:]
	}
	return kept
}

func entriesEqual(a, b []raftpb.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y raftpb.Entry) bool {
		return x.Index == y.Index && x.Term == y.Term && x.Type == y.Type && string(x.Data) == string(y.Data)
	})
}
