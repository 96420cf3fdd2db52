package main

import (
	"context"
	"errors"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/server"
)

// localCluster is the cluster view of the `local` command's nodes: each
// node's own view (server.Server.StoreCluster) completed with the client
// and HTTP addresses of the other nodes, which a node of a static
// cluster does not know but this process does, so the dashboard can
// link to every node.
//
// It is safe for concurrent use.
type localCluster struct {
	mu      sync.Mutex
	servers map[raftpb.NodeID]*server.Server
}

// add registers a node's server once it is open.
func (c *localCluster) add(id raftpb.NodeID, s *server.Server) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.servers == nil {
		c.servers = map[raftpb.NodeID]*server.Server{}
	}
	c.servers[id] = s
}

func (c *localCluster) server(id raftpb.NodeID) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[id]
}

// source is node id's server.ClusterSource.
func (c *localCluster) source(id raftpb.NodeID) server.ClusterSource {
	return localSource{c: c, self: id}
}

type localSource struct {
	c    *localCluster
	self raftpb.NodeID
}

// ClusterStatus implements server.ClusterSource.
func (ls localSource) ClusterStatus(ctx context.Context) (server.ClusterStatus, error) {
	me := ls.c.server(ls.self)
	if me == nil {
		return server.ClusterStatus{}, errors.New("node still starting")
	}
	cs, err := me.StoreCluster(ctx)
	if err != nil {
		return cs, err
	}
	for i := range cs.Nodes {
		n := &cs.Nodes[i]
		if s := ls.c.server(n.ID); s != nil {
			n.ClientAddr, n.HTTPAddr = s.ClientAddr(), s.HTTPAddr()
		}
	}
	return cs, nil
}
