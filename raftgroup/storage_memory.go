package raftgroup

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// MemoryStorage is a Storage kept in memory: the simulator's and the
// benchmarks' durable log, and a reference for real implementations.
// ents[0] is a dummy entry holding the index and term of the snapshot (or
// zero). Not safe for concurrent use.
type MemoryStorage struct {
	hard     raftpb.HardState
	snapshot raftpb.Snapshot
	ents     []raftpb.Entry
	// conf is the membership InitialState returns. NB: kept apart from
	// the snapshot's, which must stay the membership as of the snapshot's
	// index even when SetConfState records a later one.
	conf raftpb.ConfState
}

// NewMemoryStorage returns the log of a replica bootstrapped with
// membership cs.
//
// Bootstrap convention: a group's initial membership is not a log entry
// but a snapshot at index 1, term 1 (holding the empty state machine), so
// the first real entry is index 2. Every initial replica starts from that
// snapshot; a replica added later starts empty (cs with no members) and
// always catches up by snapshot, which carries the membership it joins.
func NewMemoryStorage(cs raftpb.ConfState) *MemoryStorage {
	ms := &MemoryStorage{ents: make([]raftpb.Entry, 1), conf: cs}
	if len(cs.Voters) > 0 {
		md := raftpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}
		ms.snapshot = raftpb.Snapshot{Metadata: md}
		ms.ents[0] = raftpb.Entry{Index: 1, Term: 1}
		ms.hard = raftpb.HardState{Term: 1, Commit: 1}
	}
	return ms
}

// InitialState implements Storage.
func (ms *MemoryStorage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	return ms.hard, ms.conf, nil
}

// SetHardState records a durable hard state.
func (ms *MemoryStorage) SetHardState(hs raftpb.HardState) { ms.hard = hs }

// HardState returns the recorded hard state.
func (ms *MemoryStorage) HardState() raftpb.HardState { return ms.hard }

// SetConfState records the membership that InitialState returns (callers
// update it when they apply a membership change, as a state machine would).
func (ms *MemoryStorage) SetConfState(cs raftpb.ConfState) { ms.conf = cs }

func (ms *MemoryStorage) offset() raftpb.Index { return ms.ents[0].Index }

func (ms *MemoryStorage) lastIndex() raftpb.Index {
	return ms.ents[0].Index + raftpb.Index(len(ms.ents)) - 1
}

// Entries implements Storage.
func (ms *MemoryStorage) Entries(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	if lo <= ms.offset() {
		return nil, ErrCompacted
	}
	if hi > ms.lastIndex()+1 {
		return nil, ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	ents := ms.ents[lo-ms.offset() : hi-ms.offset()]
	return limitSize(ents, maxBytes), nil
}

// Term implements Storage.
func (ms *MemoryStorage) Term(i raftpb.Index) (raftpb.Term, error) {
	if i < ms.offset() {
		return 0, ErrCompacted
	}
	if i > ms.lastIndex() {
		return 0, ErrUnavailable
	}
	return ms.ents[i-ms.offset()].Term, nil
}

// FirstIndex implements Storage.
func (ms *MemoryStorage) FirstIndex() (raftpb.Index, error) { return ms.offset() + 1, nil }

// LastIndex implements Storage.
func (ms *MemoryStorage) LastIndex() (raftpb.Index, error) { return ms.lastIndex(), nil }

// Snapshot implements Storage.
func (ms *MemoryStorage) Snapshot() (raftpb.Snapshot, error) { return ms.snapshot, nil }

// ApplySnapshot replaces the log with snap. It fails if snap is older than
// the current snapshot.
func (ms *MemoryStorage) ApplySnapshot(snap raftpb.Snapshot) error {
	if snap.Metadata.Index <= ms.snapshot.Metadata.Index && ms.snapshot.Metadata.Index != 0 {
		return fmt.Errorf("raftgroup: snapshot %d older than %d: %w", snap.Metadata.Index, ms.snapshot.Metadata.Index, ErrCompacted)
	}
	ms.snapshot = snap
	ms.conf = snap.Metadata.ConfState
	ms.ents = []raftpb.Entry{{Term: snap.Metadata.Term, Index: snap.Metadata.Index}}
	return nil
}

// CreateSnapshot records a snapshot at index i (which must be applied by
// the caller's state machine) with membership cs and data; cs also becomes
// the membership InitialState returns, until SetConfState records a later
// one.
func (ms *MemoryStorage) CreateSnapshot(i raftpb.Index, cs raftpb.ConfState, data []byte) error {
	if i <= ms.snapshot.Metadata.Index {
		return ErrCompacted
	}
	if i > ms.lastIndex() {
		return fmt.Errorf("raftgroup: snapshot index %d beyond last %d: %w", i, ms.lastIndex(), ErrUnavailable)
	}
	ms.snapshot = raftpb.Snapshot{
		Metadata: raftpb.SnapshotMetadata{Index: i, Term: ms.ents[i-ms.offset()].Term, ConfState: cs},
		Data:     data,
	}
	ms.conf = cs
	return nil
}

// Compact discards entries up to and including i, which must not be past
// the last index. The entry at i becomes the dummy entry.
func (ms *MemoryStorage) Compact(i raftpb.Index) error {
	if i <= ms.offset() {
		return ErrCompacted
	}
	if i > ms.lastIndex() {
		return fmt.Errorf("raftgroup: compact %d beyond last %d: %w", i, ms.lastIndex(), ErrUnavailable)
	}
	k := i - ms.offset()
	// NB: a new array, never a shift in place: slices handed out by
	// Entries may still be read. It keeps the old array's capacity, so a
	// log compacted at a steady pace does not regrow from small (copying
	// itself over and over) after every compaction.
	ents := make([]raftpb.Entry, 1, max(uint64(len(ms.ents))-uint64(k), uint64(cap(ms.ents))))
	ents[0] = raftpb.Entry{Index: i, Term: ms.ents[k].Term}
	ms.ents = append(ents, ms.ents[k+1:]...)
	return nil
}

// Append adds entries, replacing any existing suffix they conflict with.
// Entries at or below the compaction point are skipped. It fails if the
// entries would leave a gap.
func (ms *MemoryStorage) Append(ents []raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	first := ms.offset() + 1
	last := ents[len(ents)-1].Index
	if last < first {
		return nil
	}
	if first > ents[0].Index {
		ents = ents[first-ents[0].Index:]
	}
	k := ents[0].Index - ms.offset()
	switch {
	case uint64(len(ms.ents)) > uint64(k):
		ms.ents = append(ms.ents[:k:k], ents...)
	case uint64(len(ms.ents)) == uint64(k):
		ms.ents = appendDoubling(ms.ents, ents)
	default:
		return fmt.Errorf("raftgroup: append at %d leaves a gap after last %d", ents[0].Index, ms.lastIndex())
	}
	return nil
}

// appendDoubling appends src to dst, doubling dst's array when it is full:
// append grows large slices by a quarter only, which copies a long log
// many times over as it grows.
func appendDoubling(dst, src []raftpb.Entry) []raftpb.Entry {
	if n := len(dst) + len(src); n > cap(dst) {
		grown := make([]raftpb.Entry, len(dst), max(n, 2*cap(dst)))
		copy(grown, dst)
		dst = grown
	}
	return append(dst, src...)
}

// limitSize returns the longest prefix of ents whose summed Size is at most
// maxBytes, and at least one entry.
func limitSize(ents []raftpb.Entry, maxBytes uint64) []raftpb.Entry {
	if len(ents) == 0 {
		return ents
	}
	size := ents[0].Size()
	for i := 1; i < len(ents); i++ {
		size += ents[i].Size()
		if size > maxBytes {
			return ents[:i]
		}
	}
	return ents
}
