package plan

import (
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// NodeID names a node; 0 means "none" (no leader known, no source).
type NodeID = raftpb.NodeID

// ShardID names a shard; it is the shard's Raft group ID, the same type as
// shard.ShardID. Shard 0 is the meta shard.
type ShardID = raftpb.GroupID

// NodeState is what membership says about a node.
type NodeState int

const (
	// Live nodes are up and may receive replicas and leaderships.
	Live NodeState = iota
	// Suspect nodes have missed heartbeats recently. They receive nothing;
	// their replicas are replaced once Node.DownFor reaches
	// Config.DeadTimeout.
	Suspect
	// Dead nodes are declared down by membership. They receive nothing;
	// their replicas are replaced once Node.DownFor reaches
	// Config.DeadTimeout.
	Dead
	// Draining nodes are up but leaving: every replica and leadership they
	// hold is moved away, and they receive nothing.
	Draining
	// Decommissioned nodes are gone for good: their replicas are replaced at
	// once, whatever DownFor says.
	Decommissioned
)

func (s NodeState) String() string {
	switch s {
	case Live:
		return "live"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Draining:
		return "draining"
	case Decommissioned:
		return "decommissioned"
	}
	return fmt.Sprintf("NodeState(%d)", int(s))
}

// Node is one node as membership sees it.
type Node struct {
	ID    NodeID
	State NodeState
	// DownFor is how long the node has been Suspect or Dead; 0 when Live.
	DownFor time.Duration
	// Capacity is the node's usable disk in bytes, 0 when unknown. It only
	// breaks ties between targets with equal replica counts (more is
	// preferred).
	Capacity uint64
}

// Shard is one shard's placement as the meta shard records it.
type Shard struct {
	ID         ShardID
	Start, End []byte
	// Epoch is the shard's configuration epoch; it is copied into every
	// Action so the driver can refuse an action planned against an older
	// configuration.
	Epoch    uint64
	Voters   []NodeID
	Learners []NodeID
	// Leader is the node that leads the shard, 0 when unknown.
	Leader         NodeID
	SizeBytes      uint64
	RequestsPerSec float64
	// Meta marks the meta shard: it is replicated on
	// min(Config.MetaReplicas, live nodes) nodes instead of Config.Replicas,
	// and is never split.
	Meta bool
}

// Move is a membership change the driver has started and not yet finished.
// From 0 is a pure addition, To 0 a pure removal.
type Move struct {
	Shard    ShardID
	From, To NodeID
}

// Cluster is the snapshot the planner decides from. Nodes should list every
// node membership knows, whatever its state: a replica on a node missing
// from Nodes is treated as lost (as on a decommissioned node).
type Cluster struct {
	Nodes    []Node
	Shards   []Shard
	InFlight []Move
}
