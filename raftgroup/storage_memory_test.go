package raftgroup

import (
	"slices"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func testEntries(first, n int, term raftpb.Term) []raftpb.Entry {
	ents := make([]raftpb.Entry, n)
	for i := range ents {
		ents[i] = raftpb.Entry{Term: term, Index: raftpb.Index(first + i), Data: []byte{byte(first + i)}}
	}
	return ents
}

// TestMemoryStorageHandedOutEntriesStay checks the promise the growth
// policy relies on: slices returned by Entries keep their contents while
// the storage appends (in place, past them), compacts (into a new array of
// the old capacity) and replaces a conflicting suffix.
func TestMemoryStorageHandedOutEntriesStay(t *testing.T) {
	ms := NewMemoryStorage(raftpb.ConfState{Voters: []raftpb.NodeID{1}})
	first := int(ms.offset()) + 1
	if err := ms.Append(testEntries(first, 10, 2)); err != nil {
		t.Fatal(err)
	}
	type handed struct{ got, want []raftpb.Entry }
	var out []handed
	take := func(lo, hi int) {
		got, err := ms.Entries(raftpb.Index(lo), raftpb.Index(hi), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, handed{got, slices.Clone(got)})
	}
	take(first, first+10)
	for round := range 20 {
		last := int(ms.lastIndex())
		if err := ms.Append(testEntries(last+1, 7, 2)); err != nil {
			t.Fatal(err)
		}
		take(last-3, last+8)
		if round%3 == 2 {
			if err := ms.Compact(raftpb.Index(last - 2)); err != nil {
				t.Fatal(err)
			}
		}
		if round%5 == 4 {
			// Replace the last two entries with a later term.
			if err := ms.Append(testEntries(last+6, 2, 3)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, h := range out {
		if !slices.EqualFunc(h.got, h.want, func(a, b raftpb.Entry) bool {
			return a.Term == b.Term && a.Index == b.Index && slices.Equal(a.Data, b.Data)
		}) {
			t.Fatalf("slice %d handed out by Entries changed: %v, was %v", i, h.got, h.want)
		}
	}
}

// TestUnstableHandedOutEntriesStay checks that sizing a new array by the
// last burst never writes over entries already handed out (in a Ready, or
// in a MsgApp that may still be queued) across appends, stableTo and
// truncation.
func TestUnstableHandedOutEntriesStay(t *testing.T) {
	u := unstable{offset: 1, offsetInProgress: 1}
	type handed struct{ got, want []raftpb.Entry }
	var out []handed
	keep := func(got []raftpb.Entry) { out = append(out, handed{got, slices.Clone(got)}) }
	next := 1
	for round := range 30 {
		burst := 1 + round%4*7 // bursts of 1, 8, 15, 22 entries
		for range burst {
			u.truncateAndAppend(testEntries(next, 1, 2))
			next++
		}
		if round%6 == 5 {
			// Entries handed out (a MsgApp) and then overwritten from the
			// middle, as on a follower that hears from a new leader.
			keep(u.slice(u.offset, raftpb.Index(next)))
			from := next - burst/2 - 1
			u.truncateAndAppend(testEntries(from, 3, 3))
			next = from + 3
		}
		rd := u.nextEntries()
		keep(rd)
		keep(u.slice(u.offset, raftpb.Index(next)))
		u.acceptInProgress()
		if n := len(rd); n > 0 {
			u.stableTo(rd[n-1].Index, rd[n-1].Term)
		}
	}
	if u.burst == 0 || u.burst > maxBurstHint {
		t.Fatalf("burst hint %d", u.burst)
	}
	for i, h := range out {
		if !slices.EqualFunc(h.got, h.want, func(a, b raftpb.Entry) bool {
			return a.Term == b.Term && a.Index == b.Index && slices.Equal(a.Data, b.Data)
		}) {
			t.Fatalf("slice %d handed out changed: %v, was %v", i, h.got, h.want)
		}
	}
}
