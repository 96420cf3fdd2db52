package rafttest

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// shadowEntry is the checker's record of one log entry: its position and
// the chain hash of the whole log up to and including it. Two logs with
// equal chain hashes at an index hold the same entries up to it, which
// turns the log matching property into one comparison per entry.
type shadowEntry struct {
	index raftpb.Index
	term  raftpb.Term
	chain uint64
}

// shadowLog is the checker's copy of one replica's log as the replica has
// handed it out through Ready (durable or not).
//
// Invariant: ents[0] is the position before the first entry (the snapshot
// or compaction point, or index 0); ents[i].index == ents[0].index+i.
type shadowLog struct {
	ents []shadowEntry
}

func newShadowLog() shadowLog { return shadowLog{ents: make([]shadowEntry, 1)} }

func (l *shadowLog) base() raftpb.Index { return l.ents[0].index }
func (l *shadowLog) last() raftpb.Index { return l.ents[0].index + raftpb.Index(len(l.ents)-1) }

// at returns entry i if the log holds it (the base counts).
func (l *shadowLog) at(i raftpb.Index) (shadowEntry, bool) {
	if i < l.base() || i > l.last() {
		return shadowEntry{}, false
	}
	return l.ents[i-l.base()], true
}

// reset makes the log empty after position p (a snapshot).
func (l *shadowLog) reset(p shadowEntry) {
	l.ents = append(l.ents[:0], p)
}

// append adds ents, replacing any suffix from their first index, and
// returns the new shadow entries.
func (l *shadowLog) append(ents []raftpb.Entry) ([]shadowEntry, error) {
	if len(ents) == 0 {
		return nil, nil
	}
	first := ents[0].Index
	if first <= l.base() {
		return nil, fmt.Errorf("entries from %d overwrite the snapshot/compaction point %d", first, l.base())
	}
	if first > l.last()+1 {
		return nil, fmt.Errorf("entries from %d leave a gap after last index %d", first, l.last())
	}
	l.ents = l.ents[:first-l.base()]
	prev := l.ents[len(l.ents)-1]
	for i := range ents {
		e := &ents[i]
		if e.Index != prev.index+1 {
			return nil, fmt.Errorf("entries not contiguous: %d after %d", e.Index, prev.index)
		}
		if e.Term < prev.term {
			return nil, fmt.Errorf("entry %d has term %d below the previous entry's %d", e.Index, e.Term, prev.term)
		}
		prev = shadowEntry{index: e.Index, term: e.Term, chain: chainHash(prev.chain, e)}
		l.ents = append(l.ents, prev)
	}
	return l.ents[len(l.ents)-len(ents):], nil
}

// FNV-1a constants.
const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

func mixUint64(h, x uint64) uint64 {
	for range 8 {
		h ^= x & 0xff
		h *= fnvPrime
		x >>= 8
	}
	return h
}

// chainHash extends the hash of a log prefix by entry e.
func chainHash(prev uint64, e *raftpb.Entry) uint64 {
	h := mixUint64(fnvOffset, prev)
	h = mixUint64(h, uint64(e.Index))
	h = mixUint64(h, uint64(e.Term))
	h = mixUint64(h, uint64(e.Type))
	for _, b := range e.Data {
		h ^= uint64(b)
		h *= fnvPrime
	}
	return h
}
