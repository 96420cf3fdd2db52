package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// Node states in [NodeInfo.State].
const (
	// NodeLive: the node is up and reachable.
	NodeLive = "live"
	// NodeSuspect: the last attempt to reach the node failed; it may be
	// down or cut off.
	NodeSuspect = "suspect"
	// NodeDead: membership declared the node dead; its replicas are being
	// (or will be) re-created elsewhere.
	NodeDead = "dead"
	// NodeDraining: the node is up and its replicas are being moved away.
	NodeDraining = "draining"
	// NodeDecommissioned: the node has left the cluster for good.
	NodeDecommissioned = "decommissioned"
)

// ClusterStatus is one view of the whole cluster: its nodes, its shards
// and the replica moves in flight. GET /api/cluster serves it and the
// dashboard draws it.
//
// Invariant: Nodes are sorted by ID and Shards by start key; the slices
// are never nil once a source has returned them through the handler, so
// the JSON shape never has null lists.
type ClusterStatus struct {
	Nodes  []NodeInfo  `json:"nodes"`
	Shards []ShardInfo `json:"shards"`
	Moves  []MoveInfo  `json:"moves"`
	// MetaLeader is the leader of the meta shard (shard 0), or 0
	// (raftpb.None) when it is unknown or the cluster has no meta shard
	// (a static cluster).
	MetaLeader raftpb.NodeID `json:"meta_leader"`
}

// NodeInfo is one node of a [ClusterStatus].
type NodeInfo struct {
	ID raftpb.NodeID `json:"id"`
	// State is one of NodeLive, NodeSuspect, NodeDead, NodeDraining and
	// NodeDecommissioned.
	State string `json:"state"`
	// RaftAddr, ClientAddr and HTTPAddr are the node's listen addresses;
	// empty when the source does not know them.
	RaftAddr   string `json:"raft_addr"`
	ClientAddr string `json:"client_addr"`
	HTTPAddr   string `json:"http_addr"`
	// Replicas is the number of shards with a replica on the node;
	// Leaders the number it leads.
	Replicas int `json:"replicas"`
	Leaders  int `json:"leaders"`
}

// ShardInfo is one shard of a [ClusterStatus]: its key range
// [Start, End) (an empty End: to the end of the key space), its replicas'
// nodes, its leader (0 while unknown) and its descriptor epoch.
//
// In JSON the keys are strings ("start", "end"). A key that is not valid
// UTF-8 also comes exactly in "start_base64" or "end_base64" (its
// "start" or "end" then shows the invalid bytes as U+FFFD).
type ShardInfo struct {
	ID       shard.ShardID
	Start    []byte
	End      []byte
	Replicas []raftpb.NodeID
	Leader   raftpb.NodeID
	Epoch    uint64
}

// shardInfoJSON is ShardInfo's JSON form.
type shardInfoJSON struct {
	ID          shard.ShardID   `json:"id"`
	Start       string          `json:"start"`
	End         string          `json:"end"`
	StartBase64 []byte          `json:"start_base64,omitempty"`
	EndBase64   []byte          `json:"end_base64,omitempty"`
	Replicas    []raftpb.NodeID `json:"replicas"`
	Leader      raftpb.NodeID   `json:"leader"`
	Epoch       uint64          `json:"epoch"`
}

// MarshalJSON writes the keys as strings (see [ShardInfo]).
func (si ShardInfo) MarshalJSON() ([]byte, error) {
	j := shardInfoJSON{ID: si.ID, Start: string(si.Start), End: string(si.End),
		Replicas: si.Replicas, Leader: si.Leader, Epoch: si.Epoch}
	if j.Replicas == nil {
		j.Replicas = []raftpb.NodeID{}
	}
	if !utf8.Valid(si.Start) {
		j.StartBase64 = si.Start
	}
	if !utf8.Valid(si.End) {
		j.EndBase64 = si.End
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (si *ShardInfo) UnmarshalJSON(b []byte) error {
	var j shardInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*si = ShardInfo{ID: j.ID, Start: []byte(j.Start), End: []byte(j.End),
		Replicas: j.Replicas, Leader: j.Leader, Epoch: j.Epoch}
	if j.StartBase64 != nil {
		si.Start = j.StartBase64
	}
	if j.EndBase64 != nil {
		si.End = j.EndBase64
	}
	if len(si.Start) == 0 {
		si.Start = nil
	}
	if len(si.End) == 0 {
		si.End = nil
	}
	return nil
}

// MoveInfo is one replica move in flight: Shard's replica goes from node
// From to node To; Stage names the step it is at (for example "learner",
// "catching-up", "joint", "removing") and Since is when it entered it.
type MoveInfo struct {
	Shard shard.ShardID `json:"shard"`
	From  raftpb.NodeID `json:"from"`
	To    raftpb.NodeID `json:"to"`
	Stage string        `json:"stage"`
	Since time.Time     `json:"since"`
}

// ClusterSource supplies the cluster view. The default (Options.Cluster
// nil) is built from the local store; the placement layer supplies one
// from the placement table and gossip membership.
//
// ClusterStatus must be safe for concurrent use: HTTP requests call it in
// parallel. It should answer from memory, quickly (the dashboard polls
// it); the returned value belongs to the caller.
type ClusterSource interface {
	ClusterStatus(ctx context.Context) (ClusterStatus, error)
}

// clusterSource is Options.Cluster, or the default built from the store.
func (s *Server) clusterSource() ClusterSource {
	if s.opts.Cluster != nil {
		return s.opts.Cluster
	}
	if s.opts.Placement != nil {
		return placementSource{s.opts.Placement}
	}
	return storeCluster{s}
}

// handleCluster is GET /api/cluster.
func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	cs, err := s.clusterSource().ClusterStatus(r.Context())
	if err != nil {
		writeHTTPError(w, httpStatus(err), err)
		return
	}
	if cs.Nodes == nil {
		cs.Nodes = []NodeInfo{}
	}
	if cs.Shards == nil {
		cs.Shards = []ShardInfo{}
	}
	if cs.Moves == nil {
		cs.Moves = []MoveInfo{}
	}
	writeJSON(w, http.StatusOK, cs)
}
