package raftpb

import "fmt"

// Term is a Raft term number. Terms only grow; 0 means "no term yet".
type Term uint64

// Index is a position in a group's Raft log. The first real entry has index
// 1; index 0 is the empty log's sentinel.
type Index uint64

// NodeID names a replica's node. It is never reused; 0 means "none".
type NodeID uint64

// GroupID names a Raft group (a shard). Group 0 is the meta shard.
type GroupID uint64

// None is the NodeID that means "no node", for example "no leader known" or
// "voted for nobody".
const None NodeID = 0

// EntryType says how an entry's Data is to be read.
type EntryType uint8

const (
	// EntryNormal carries an application command (or nothing: the empty
	// entry a new leader appends to commit its term).
	EntryNormal EntryType = iota
	// EntryConfChange carries an encoded ConfChange.
	EntryConfChange
	// EntryStore carries a command for the node's store itself rather
	// than its state machine (a shard split). Raft treats it exactly as a
	// normal entry.
	EntryStore
	// MaxEntryType is the highest entry type; decoders refuse higher ones.
	MaxEntryType = EntryStore
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "Normal"
	case EntryConfChange:
		return "ConfChange"
	case EntryStore:
		return "Store"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one record of a group's replicated log.
type Entry struct {
	Term  Term
	Index Index
	Type  EntryType
	Data  []byte
}

// entryOverhead approximates the fixed bytes an entry costs on the wire and
// on disk beyond its payload (varint term, index and type). It is used only
// for size budgeting, never for encoding.
const entryOverhead = 12

// Size returns the approximate encoded size of e in bytes, used to bound
// message and batch sizes.
func (e *Entry) Size() uint64 { return uint64(len(e.Data)) + entryOverhead }

// EntriesSize returns the summed Size of ents.
func EntriesSize(ents []Entry) uint64 {
	var n uint64
	for i := range ents {
		n += ents[i].Size()
	}
	return n
}

// HardState is the part of a replica's Raft state that must be durable
// before the replica acts on it: its term, its vote in that term, and the
// highest index it knows to be committed.
type HardState struct {
	Term   Term
	Vote   NodeID
	Commit Index
}

// IsEmpty reports whether h is the zero HardState.
func (h HardState) IsEmpty() bool { return h == HardState{} }

// SnapshotMetadata describes the state a snapshot captures: the log position
// it replaces and the membership in force at that position.
type SnapshotMetadata struct {
	Index     Index
	Term      Term
	ConfState ConfState
}

// Snapshot is a point-in-time image of a group's state machine. Data is
// opaque to Raft; the store may leave it empty and stream the image on a
// separate path (the transport's snapshot stream).
type Snapshot struct {
	Metadata SnapshotMetadata
	Data     []byte
}

// IsEmpty reports whether s describes no snapshot (index 0).
func (s *Snapshot) IsEmpty() bool { return s == nil || s.Metadata.Index == 0 }
