package raftgroup

import (
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Errors returned by Storage implementations and understood by the core.
var (
	// ErrCompacted: the requested index is below the storage's first
	// index; the entries were folded into a snapshot. Not retryable for
	// that index.
	ErrCompacted = errors.New("raftgroup: requested index is compacted")
	// ErrUnavailable: the requested entries are not in storage (beyond its
	// last index).
	ErrUnavailable = errors.New("raftgroup: requested entry is unavailable")
	// ErrSnapshotTemporarilyUnavailable: the storage cannot produce a
	// snapshot right now; the core retries later. Retryable.
	ErrSnapshotTemporarilyUnavailable = errors.New("raftgroup: snapshot temporarily unavailable")
)

// Errors returned by the Group's inputs.
var (
	// ErrProposalDropped: the proposal was not appended (for example the
	// leader was removed from the group, or the uncommitted log is over
	// its byte limit). Retrying later is safe.
	ErrProposalDropped = errors.New("raftgroup: proposal dropped")
	// ErrTransferInProgress: a leadership transfer is under way and the
	// leader refuses new proposals until it ends. Retry after the transfer
	// (at the new leader).
	ErrTransferInProgress = errors.New("raftgroup: leadership transfer in progress")
	// ErrConfChangePending: an earlier membership change is not yet
	// applied. Retry once it is.
	ErrConfChangePending = errors.New("raftgroup: a membership change is already pending")
	// ErrInvalidConfChange: the membership change cannot apply to the
	// current configuration (see the wrapped detail). Not retryable as is.
	ErrInvalidConfChange = errors.New("raftgroup: invalid membership change")
	// ErrMalformedMessage: a message failed validation (wrong group or
	// destination, impossible indexes, non-contiguous entries). The message
	// is dropped; the group is unchanged.
	ErrMalformedMessage = errors.New("raftgroup: malformed message")
	// ErrStepLocal is returned when a message claims to come from this
	// replica itself.
	ErrStepLocal = errors.New("raftgroup: message from self")
	// ErrTransferTarget: the leadership transfer target is not a voter.
	ErrTransferTarget = errors.New("raftgroup: transfer target is not a voter")
)

// NotLeaderError is returned by proposals, reads and transfers made on a
// replica that is not the leader. Leader is the leader this replica knows
// of (raftpb.None if it knows none). Retrying at Leader is safe.
type NotLeaderError struct {
	Group  raftpb.GroupID
	Leader raftpb.NodeID
	Term   raftpb.Term
}

func (e *NotLeaderError) Error() string {
	if e.Leader == raftpb.None {
		return fmt.Sprintf("raftgroup: group %d: not leader, no leader known in term %d", e.Group, e.Term)
	}
	return fmt.Sprintf("raftgroup: group %d: not leader, leader is node %d (term %d)", e.Group, e.Leader, e.Term)
}
