package plan

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the planner's targets and limits. The zero value of every
// field means its default; EnsureDefaults fills them in and Validate checks
// the result. Plan plans nothing when its Config does not validate, so a
// driver should call Validate once when it starts.
type Config struct {
	// Replicas is the number of voters every shard but the meta shard
	// should have. Default 3; at least 1. Fewer are placed when fewer live
	// nodes exist.
	Replicas int
	// MetaReplicas is the number of voters the meta shard should have.
	// Default 5; at least 1. Fewer are placed when fewer live nodes exist.
	MetaReplicas int
	// DeadTimeout is how long a node must have been Suspect or Dead before
	// its replicas are replaced. Default 5 minutes.
	DeadTimeout time.Duration
	// Tolerance is how far from the mean, as a fraction of the mean, a
	// node's replica, leader or load count may be before the planner moves
	// anything (see the package doc for the rounding rule). Default 0.10;
	// must be in (0, 1).
	Tolerance float64
	// MaxMovesPerNode bounds the membership changes in flight that involve
	// one node, counting the ones in Cluster.InFlight and the ones planned
	// in the same call. Default 2; at least 1.
	MaxMovesPerNode int
	// MaxMoves bounds the membership changes in flight in the whole
	// cluster, counted like MaxMovesPerNode. Default 8; at least 1.
	MaxMoves int
	// MaxLeaderTransfers bounds the leadership transfers one call plans.
	// Default 32; at least 1.
	MaxLeaderTransfers int
	// MaxSplits bounds the splits one call plans. Default 8; at least 1.
	MaxSplits int
	// BalanceLoad turns on leadership transfers that even out the request
	// rates the leaders serve. Default off.
	BalanceLoad bool
	// MinLoadGap is the smallest distance from the mean load, in requests
	// per second, that BalanceLoad acts on: a node is left alone while its
	// load is within max(Tolerance*mean, MinLoadGap) of the mean, so that
	// a lightly loaded cluster does not chase noise in measured rates.
	// Default 100; must not be negative (a tiny value turns it off).
	MinLoadGap float64
	// SplitSizeBytes splits a shard whose size reaches it. 0 never splits
	// on size.
	SplitSizeBytes uint64
	// SplitRequestsPerSec splits a shard whose request rate reaches it. 0
	// never splits on rate; must not be negative.
	SplitRequestsPerSec float64
}

// Defaults of Config's fields.
const (
	DefaultReplicas           = 3
	DefaultMetaReplicas       = 5
	DefaultDeadTimeout        = 5 * time.Minute
	DefaultTolerance          = 0.10
	DefaultMaxMovesPerNode    = 2
	DefaultMaxMoves           = 8
	DefaultMaxLeaderTransfers = 32
	DefaultMaxSplits          = 8
	DefaultMinLoadGap         = 100.0
)

// EnsureDefaults replaces every zero field that has a default with it.
func (c *Config) EnsureDefaults() {
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MetaReplicas == 0 {
		c.MetaReplicas = DefaultMetaReplicas
	}
	if c.DeadTimeout == 0 {
		c.DeadTimeout = DefaultDeadTimeout
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.MaxMovesPerNode == 0 {
		c.MaxMovesPerNode = DefaultMaxMovesPerNode
	}
	if c.MaxMoves == 0 {
		c.MaxMoves = DefaultMaxMoves
	}
	if c.MaxLeaderTransfers == 0 {
		c.MaxLeaderTransfers = DefaultMaxLeaderTransfers
	}
	if c.MaxSplits == 0 {
		c.MaxSplits = DefaultMaxSplits
	}
	if c.MinLoadGap == 0 {
		c.MinLoadGap = DefaultMinLoadGap
	}
}

// Validate reports the first field out of its bounds. Zero fields are
// accepted: they stand for their defaults.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 0:
		return fmt.Errorf("plan: Replicas %d is negative", c.Replicas)
	case c.MetaReplicas < 0:
		return fmt.Errorf("plan: MetaReplicas %d is negative", c.MetaReplicas)
	case c.DeadTimeout < 0:
		return fmt.Errorf("plan: DeadTimeout %v is negative", c.DeadTimeout)
	case math.IsNaN(c.Tolerance) || c.Tolerance < 0 || c.Tolerance >= 1:
		return fmt.Errorf("plan: Tolerance %v is not in (0, 1)", c.Tolerance)
	case c.MaxMovesPerNode < 0:
		return fmt.Errorf("plan: MaxMovesPerNode %d is negative", c.MaxMovesPerNode)
	case c.MaxMoves < 0:
		return fmt.Errorf("plan: MaxMoves %d is negative", c.MaxMoves)
	case c.MaxLeaderTransfers < 0:
		return fmt.Errorf("plan: MaxLeaderTransfers %d is negative", c.MaxLeaderTransfers)
	case c.MaxSplits < 0:
		return fmt.Errorf("plan: MaxSplits %d is negative", c.MaxSplits)
	case math.IsNaN(c.MinLoadGap) || c.MinLoadGap < 0:
		return errors.New("plan: MinLoadGap is negative or NaN")
	case math.IsNaN(c.SplitRequestsPerSec) || c.SplitRequestsPerSec < 0:
		return errors.New("plan: SplitRequestsPerSec is negative or NaN")
	}
	return nil
}

// String prints every field, for status pages and logs.
func (c Config) String() string {
	return fmt.Sprintf("Replicas=%d MetaReplicas=%d DeadTimeout=%v Tolerance=%g "+
		"MaxMovesPerNode=%d MaxMoves=%d MaxLeaderTransfers=%d MaxSplits=%d "+
		"BalanceLoad=%t MinLoadGap=%g SplitSizeBytes=%d SplitRequestsPerSec=%g",
		c.Replicas, c.MetaReplicas, c.DeadTimeout, c.Tolerance,
		c.MaxMovesPerNode, c.MaxMoves, c.MaxLeaderTransfers, c.MaxSplits,
		c.BalanceLoad, c.MinLoadGap, c.SplitSizeBytes, c.SplitRequestsPerSec)
}
