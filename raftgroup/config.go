package raftgroup

import (
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Config configures one Group. Zero values mean the documented default.
// New copies it; changing the caller's struct later has no effect.
type Config struct {
	// ID is this replica's node. Required, never raftpb.None.
	ID raftpb.NodeID
	// Group is the group this replica belongs to; stamped on every
	// outgoing message and checked on every incoming one.
	Group raftpb.GroupID
	// Storage is the durable log as of the last Advance. Required. The core
	// only reads it.
	Storage Storage
	// Applied is the last index the state machine has applied, on restart.
	// Committed entries up to it are not handed out again. Default 0.
	Applied raftpb.Index

	// ElectionTicks is the election timeout in ticks; a follower that hears
	// nothing from a leader for a random time in [ElectionTicks,
	// 2*ElectionTicks) campaigns. Default 10. Must exceed HeartbeatTicks.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval in ticks. Default 1.
	HeartbeatTicks int

	// MaxMsgBytes bounds the entry bytes of one MsgApp (at least one entry
	// is always sent). Default 1 MiB.
	MaxMsgBytes uint64
	// MaxInflightMsgs bounds the MsgApps sent to one follower and not yet
	// acknowledged. Default 256.
	MaxInflightMsgs int
	// MaxInflightBytes bounds the entry bytes in flight to one follower.
	// Default 32 MiB.
	MaxInflightBytes uint64
	// MaxUncommittedBytes bounds the payload bytes the leader holds
	// appended but uncommitted; proposals beyond it get
	// ErrProposalDropped. Default 64 MiB.
	MaxUncommittedBytes uint64
	// MaxCommittedBytesPerReady bounds the committed entry bytes handed out
	// by one Ready (at least one entry is). Default 64 MiB.
	MaxCommittedBytesPerReady uint64

	// DisablePreVote turns off the pre-vote phase. Pre-vote keeps a
	// partitioned replica from raising the term and disrupting a healthy
	// leader when it rejoins. Default: pre-vote on.
	DisablePreVote bool
	// DisableCheckQuorum turns off CheckQuorum: the leader stepping down
	// after an election timeout without hearing from a quorum, and
	// followers ignoring vote requests while they hear from a leader.
	// Default: on.
	DisableCheckQuorum bool
	// LeaseReads serves ReadIndex from the leader's lease without a
	// heartbeat round. It requires CheckQuorum and assumes that the tick
	// rates of the replicas differ by less than the margin between the
	// election timeout and the lease (see doc.go, "Reads"). Default off.
	LeaseReads bool
	// DisableQuiesce keeps the group ticking and heartbeating even when it
	// is idle. Default: quiescence on.
	DisableQuiesce bool
	// LazyCommit lets followers learn a new commit index from the
	// leader's next message to them (an append, a heartbeat, a quiesce)
	// instead of from an empty append sent as soon as it moves, which
	// they acknowledge. Why: with one or two entries per append, as when
	// writes are spread over thousands of groups, those empty appends and
	// their acknowledgements are half of all messages and a follower
	// round each. The cost: a follower applies an entry up to a heartbeat
	// interval later when no new entry follows it (the leader's clients
	// are answered as before, and safety does not depend on when
	// followers learn the commit index). Default off.
	LazyCommit bool

	// Seed seeds the jitter of election timeouts. The core uses no other
	// randomness. Two replicas given the same seed still draw different
	// timeouts (the node ID is mixed in).
	Seed uint64
}

func (c *Config) ensureDefaults() {
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.MaxMsgBytes == 0 {
		c.MaxMsgBytes = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = 32 << 20
	}
	if c.MaxUncommittedBytes == 0 {
		c.MaxUncommittedBytes = 64 << 20
	}
	if c.MaxCommittedBytesPerReady == 0 {
		c.MaxCommittedBytesPerReady = 64 << 20
	}
}

// maxElectionTicks bounds ElectionTicks so that twice it (the longest
// randomized timeout) and the elapsed counters fit in an int32.
const maxElectionTicks = 1 << 29

func (c *Config) validate() error {
	switch {
	case c.ID == raftpb.None:
		return errors.New("raftgroup: Config.ID must not be 0")
	case c.Storage == nil:
		return errors.New("raftgroup: Config.Storage is required")
	case c.HeartbeatTicks < 0 || c.ElectionTicks <= c.HeartbeatTicks:
		return fmt.Errorf("raftgroup: ElectionTicks (%d) must exceed HeartbeatTicks (%d) > 0", c.ElectionTicks, c.HeartbeatTicks)
	case c.ElectionTicks > maxElectionTicks:
		return fmt.Errorf("raftgroup: ElectionTicks (%d) above %d", c.ElectionTicks, maxElectionTicks)
	case c.MaxInflightMsgs < 0:
		return errors.New("raftgroup: MaxInflightMsgs must not be negative")
	case c.LeaseReads && c.DisableCheckQuorum:
		return errors.New("raftgroup: LeaseReads requires CheckQuorum")
	}
	return nil
}
