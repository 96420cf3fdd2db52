package server

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
	"github.com/flotilladb/flotilla/transport"
)

// storeCluster is the default [ClusterSource]: the cluster as one node's
// store sees it. Its shards are the node's own replicas (their
// descriptors and the leaders this node knows); its nodes are this node,
// the static peers the store was opened with, and every node named as a
// replica. Replica and leader counts per node are derived from those
// descriptors, which is exact while every node hosts every shard (a
// static cluster) and an undercount of other nodes' replicas once
// placement spreads shards unevenly: the placement layer then supplies
// its own source.
//
// It knows only this node's client and HTTP addresses, and peers' Raft
// addresses. A peer's state comes from Options.Liveness when set (the
// transport's view); without it peers are reported live.
type storeCluster struct {
	s *Server
}

// ClusterStatus implements ClusterSource.
func (c storeCluster) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	st := c.s.store
	self := st.NodeID()
	nodes := map[raftpb.NodeID]*NodeInfo{}
	node := func(id raftpb.NodeID) *NodeInfo {
		n := nodes[id]
		if n == nil {
			n = &NodeInfo{ID: id, State: c.peerState(id)}
			nodes[id] = n
		}
		return n
	}
	me := node(self)
	me.State, me.ClientAddr, me.HTTPAddr = NodeLive, c.s.ClientAddr(), c.s.HTTPAddr()
	for id, addr := range st.Options().Peers {
		node(id).RaftAddr = addr
	}
	var cs ClusterStatus
	for _, sh := range st.Shards() {
		d := sh.Desc
		cs.Shards = append(cs.Shards, ShardInfo{ID: d.ID, Start: d.Start, End: d.End,
			Replicas: slices.Clone(d.Replicas), Leader: sh.Leader, Epoch: d.Epoch})
		for _, id := range d.Replicas {
			node(id).Replicas++
		}
		if sh.Leader != raftpb.None {
			node(sh.Leader).Leaders++
		}
		if d.ID == shard.ShardID(0) {
			cs.MetaLeader = sh.Leader
		}
	}
	for _, n := range nodes {
		cs.Nodes = append(cs.Nodes, *n)
	}
	slices.SortFunc(cs.Nodes, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	return cs, nil
}

// StoreCluster returns the cluster as this node's store sees it: what
// GET /api/cluster serves when Options.Cluster is nil (see
// [ClusterSource]). A source that knows more, such as other nodes'
// addresses, can start from it.
func (s *Server) StoreCluster(ctx context.Context) (ClusterStatus, error) {
	return storeCluster{s}.ClusterStatus(ctx)
}

func (c storeCluster) peerState(id raftpb.NodeID) string {
	if c.s.opts.Liveness == nil {
		return NodeLive
	}
	return c.s.opts.Liveness.State(id)
}

// Liveness tracks what the node-to-node transport says about each peer:
// after a connection to it came up the peer is live; after a dial failed
// or the connection broke it is suspect, until a connection comes up
// again. Before either has happened the peer is live (a peer the node
// has had nothing to send to yet). The default cluster source reports
// these states when Options.Liveness is set. Static clusters have no
// failure detector beyond this; gossip membership supersedes it.
//
// A Liveness is safe for concurrent use; the zero value is ready.
type Liveness struct {
	mu struct {
		sync.Mutex
		suspect map[raftpb.NodeID]bool
	}
}

// Watch makes l follow the transport events of ev, keeping any callbacks
// already there. Call it on the store's transport options before the
// store opens:
//
//	l.Watch(&nodeOpts.Store.TransportOptions.Events)
func (l *Liveness) Watch(ev *transport.EventListener) {
	connected, unreachable := ev.PeerConnected, ev.PeerUnreachable
	ev.PeerConnected = func(peer raftpb.NodeID) {
		l.set(peer, false)
		if connected != nil {
			connected(peer)
		}
	}
	ev.PeerUnreachable = func(peer raftpb.NodeID, err error) {
		l.set(peer, true)
		if unreachable != nil {
			unreachable(peer, err)
		}
	}
}

func (l *Liveness) set(peer raftpb.NodeID, suspect bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.suspect == nil {
		l.mu.suspect = map[raftpb.NodeID]bool{}
	}
	l.mu.suspect[peer] = suspect
}

// State is NodeSuspect or NodeLive, as described on [Liveness].
func (l *Liveness) State(peer raftpb.NodeID) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.suspect[peer] {
		return NodeSuspect
	}
	return NodeLive
}
