package shard

import (
	"bytes"
	"github.com/flotilladb/flotilla/transport"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ShardStatus is what this node knows of one of its replicas, for status
// pages and readiness checks. It is a snapshot: the values may change
// right after it is taken.
type ShardStatus struct {
	// Desc is the shard's descriptor as this node's routing sees it.
	Desc Descriptor
	// Leader is the node this replica believes leads the shard
	// (raftpb.None while unknown, during an election).
	Leader raftpb.NodeID
	// Applied is the replica's applied index; Durable is the part of it
	// a state machine sync point has made durable.
	Applied, Durable raftpb.Index
	// Quiesced reports that the group is idle and not ticking.
	Quiesced bool
}

// NodeID returns this node's ID.
func (s *Store) NodeID() raftpb.NodeID { return s.opts.NodeID }

// Options returns a copy of the store's effective options (defaults
// filled in). Slices and maps in it are shared: do not modify them.
func (s *Store) Options() Options { return s.opts }

// Shards returns the status of every replica this node hosts, in key
// order. It only reads atomics and takes no round: cheap enough for a
// status page polled every second on a node with thousands of shards.
func (s *Store) Shards() []ShardStatus {
	rs := s.replicas(nil)
	out := make([]ShardStatus, 0, len(rs))
	for _, r := range rs {
		d := r.descriptor()
		out = append(out, ShardStatus{
			Desc:     *d,
			Leader:   raftpb.NodeID(r.leader.Load()),
			Applied:  raftpb.Index(r.appliedIdx.Load()),
			Durable:  raftpb.Index(r.durableIdx.Load()),
			Quiesced: !r.awake.Load(),
		})
	}
	slices.SortFunc(out, func(a, b ShardStatus) int {
		return bytes.Compare(a.Desc.Start, b.Desc.Start)
	})
	return out
}

// Hosts reports whether this node has an initialized replica of shard
// id, and whether it leads it.
func (s *Store) Hosts(id ShardID) (hosted, leader bool) {
	r := s.replica(id)
	if r == nil || !r.descriptor().Initialized() {
		return false, false
	}
	return true, raftpb.NodeID(r.leader.Load()) == s.opts.NodeID
}

// TransportMetrics returns the counters of the store's own TCP transport
// (false when it has none: a single node, or an external Transport).
func (s *Store) TransportMetrics() (transport.Metrics, bool) {
	if s.tcp == nil {
		return transport.Metrics{}, false
	}
	return s.tcp.Metrics(), true
}
