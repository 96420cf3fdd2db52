package shard

import (
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Errors returned by the store. Each says whether retrying is safe.
var (
	// ErrClosed: the store is closed. Not retryable here.
	ErrClosed = errors.New("shard: store closed")
	// ErrFailed: the store hit a fatal error (a failed fsync) and stopped.
	// Not retryable on this node.
	ErrFailed = errors.New("shard: store failed")
	// ErrTimeout: the request did not finish in time. A write may or may
	// not have been applied; a read can be retried.
	ErrTimeout = errors.New("shard: request timed out")
	// ErrProposalDropped: the write was not accepted (or its log entry
	// was replaced by a new leader's); it was not applied. Retryable.
	ErrProposalDropped = errors.New("shard: proposal dropped")
	// ErrCrossShard: a batch touches keys of more than one shard; nothing
	// was applied. Split the batch per shard.
	ErrCrossShard = errors.New("shard: batch spans more than one shard")
	// ErrTooLarge: the command exceeds Options.MaxProposalBytes.
	ErrTooLarge = errors.New("shard: command too large")
	// ErrTooManyKeys: a read names more than MaxGetManyKeys keys; nothing
	// was read. Split it.
	ErrTooManyKeys = errors.New("shard: too many keys in one read")
	// ErrNoShard: no shard covers the key on this node.
	ErrNoShard = errors.New("shard: no shard for key")
	// ErrNoQuorum: the shard has no leader (no quorum reachable). Retry
	// later.
	ErrNoQuorum = errors.New("shard: unavailable, no quorum")
	// ErrShardMoved: the shard's replica left this node (moved to another
	// node, or its range changed in a split) while the request was on
	// it. Nothing was applied by this request unless it had already been
	// acknowledged; refresh the route and retry.
	ErrShardMoved = errors.New("shard: shard moved")
	// ErrCondFailed: a compare-and-swap or conditional batch found
	// another value; nothing was applied. See *CondFailedError.
	ErrCondFailed = errors.New("shard: condition failed")
)

// NotLeaderError: this node does not lead the key's shard. Leader is the
// node that does (raftpb.None if unknown). Retrying at Leader is safe.
type NotLeaderError struct {
	Shard  ShardID
	Leader raftpb.NodeID
}

func (e *NotLeaderError) Error() string {
	if e.Leader == raftpb.None {
		return fmt.Sprintf("shard: shard %d: not leader, no leader known", e.Shard)
	}
	return fmt.Sprintf("shard: shard %d: not leader, leader is node %d", e.Shard, e.Leader)
}

// CondFailedError reports which precondition of a conditional write did
// not hold and the key's current value. Nothing was applied.
type CondFailedError struct {
	Key     []byte
	Current []byte
	Exists  bool
}

func (e *CondFailedError) Error() string {
	if !e.Exists {
		return fmt.Sprintf("shard: condition failed on %q: key absent", e.Key)
	}
	return fmt.Sprintf("shard: condition failed on %q", e.Key)
}

// Is makes errors.Is(err, ErrCondFailed) true.
func (e *CondFailedError) Is(target error) bool { return target == ErrCondFailed }
