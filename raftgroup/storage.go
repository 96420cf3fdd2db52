package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// Storage is the durable part of a replica's log, as the core sees it:
// read-only. Writes leave the core in Ready (entries, hard state,
// snapshot); the caller makes them durable and then calls Advance, after
// which Storage must reflect them.
//
// Invariants the implementation keeps:
//   - entries are contiguous from FirstIndex to LastIndex;
//   - Term(FirstIndex()-1) returns the term of the last compacted entry (or
//     of the snapshot), so the core can match the entry before the first;
//   - an empty log has FirstIndex 1 and LastIndex 0.
//
// Storage methods are called only from the goroutine that drives the Group.
type Storage interface {
	// InitialState returns the durable hard state and the membership as of
	// Config.Applied.
	InitialState() (raftpb.HardState, raftpb.ConfState, error)
	// Entries returns entries [lo, hi), stopping early once their summed
	// Size passes maxBytes (but returning at least one). It returns
	// ErrCompacted if lo < FirstIndex and ErrUnavailable if hi-1 >
	// LastIndex. The caller must not modify the returned entries.
	Entries(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error)
	// Term returns the term of entry i, for FirstIndex()-1 <= i <=
	// LastIndex(); ErrCompacted below, ErrUnavailable above.
	Term(i raftpb.Index) (raftpb.Term, error)
	// FirstIndex is the index of the first entry still available.
	FirstIndex() (raftpb.Index, error)
	// LastIndex is the index of the last durable entry.
	LastIndex() (raftpb.Index, error)
	// Snapshot returns the most recent snapshot, for a follower that needs
	// entries below FirstIndex. It may return
	// ErrSnapshotTemporarilyUnavailable.
	Snapshot() (raftpb.Snapshot, error)
}
