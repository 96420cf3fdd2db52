package shard

import (
	"context"
	"io"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ShardID names a shard; it is its Raft group's ID.
type ShardID = raftpb.GroupID

// ShardState is what the state machine persists per shard beside its data,
// written in the same (unsynced) batch as the data it describes.
type ShardState struct {
	Desc Descriptor
	// Applied is the last applied log index and AppliedTerm its term.
	Applied     raftpb.Index
	AppliedTerm raftpb.Term
	// ConfState is the membership as of Applied.
	ConfState raftpb.ConfState
}

// StateMachine is the node's replicated state: the data of every shard it
// hosts plus each shard's ShardState. The store applies committed entries
// of all the groups of one round in ONE ApplyBatch and commits it without
// sync; SyncPoint makes everything committed so far durable.
//
// The default is the pebble key-value store (kv.go). Embedders who bring
// their own state implement this interface; the commands they propose are
// opaque bytes to the store.
//
// Concurrency: NewApplyBatch, Snapshot and Install are called by the
// store's workers, at most one at a time per shard; reads (Get, Scan,
// Query) come from client goroutines concurrently with them.
type StateMachine interface {
	// Load returns the persisted state of every shard (after a restart;
	// empty on a new node).
	Load() ([]ShardState, error)
	// NewApplyBatch starts the apply batch of one round.
	NewApplyBatch() ApplyBatch
	// Snapshot captures a consistent image of shard id at its current
	// applied state and returns its ShardState and a source of its bytes.
	// The source may be opened several times (a broken stream restarts)
	// until it is closed.
	Snapshot(id ShardID) (ShardState, SnapshotSource, error)
	// Install replaces shard st.Desc.ID's range and state atomically with
	// the image read from r, and records st.
	Install(ctx context.Context, st ShardState, r io.Reader) error
	// DeleteShard removes shard id's data and state (its replica left this
	// node), durably: after a crash the shard is either still whole or
	// gone.
	DeleteShard(ctx context.Context, id ShardID) error
	// SyncPoint makes every committed ApplyBatch durable.
	SyncPoint() error
	// Close releases the state machine.
	Close() error
}

// ApplyBatch collects the effects of one round's committed entries. Apply
// calls for one shard come in log order.
type ApplyBatch interface {
	// Apply applies a normal entry's command to shard id and returns the
	// result to hand the proposer (nil if none). It must be deterministic:
	// every replica gets the same result. Malformed commands yield an
	// error result, never a panic.
	Apply(id ShardID, e *raftpb.Entry) []byte
	// SetState records the shard's state after this batch's entries.
	SetState(st ShardState)
	// Commit makes the batch visible to reads, without sync.
	Commit() error
	// Close releases the batch (after Commit or to abandon it).
	Close()
}

// SnapshotSource yields a snapshot image; each Open starts from the first
// byte. Close releases the consistent view it reads from.
type SnapshotSource interface {
	Open() (io.ReadCloser, error)
	Close() error
}
