package server

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/flotilladb/flotilla/shard"
)

// NodeOptions configures a Node: a store and its server. Zero values
// take the defaults of shard.Options and Options.
type NodeOptions struct {
	// Store configures the store. Store.Peers lists the Raft addresses of
	// a static cluster (empty: a single node); the store then runs the TCP
	// transport, which also carries requests a node that does not lead a
	// key's shard forwards to the leader's node.
	Store shard.Options
	// Server configures the RESP and HTTP server (Server.Store is set by
	// OpenNode).
	Server Options
}

// EnsureDefaults fills the zero fields of Store and Server (but
// Server.Store, which OpenNode sets) and returns o.
func (o *NodeOptions) EnsureDefaults() *NodeOptions {
	o.Store.EnsureDefaults()
	o.Server.EnsureDefaults()
	return o
}

// Validate reports the first invalid field.
func (o *NodeOptions) Validate() error {
	if o.Server.Store != nil {
		return errors.New("server: NodeOptions.Server.Store is set by OpenNode")
	}
	return o.Store.Validate()
}

// Node is one running node: the store (with its transport between
// nodes) and the client-facing server.
type Node struct {
	Store  *shard.Store
	Server *Server
	closed atomic.Bool
}

// OpenNode opens the store (creating or recovering it) and its server.
// Close stops them in reverse order.
func OpenNode(ctx context.Context, o NodeOptions) (*Node, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	st, err := shard.Open(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	n := &Node{Store: st}
	srvOpts := o.Server
	srvOpts.Store = st
	if n.Server, err = New(srvOpts); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// Close stops the server, then the store. Calls after the first do
// nothing.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if n.Server != nil {
		errs = append(errs, n.Server.Close())
	}
	errs = append(errs, n.Store.Close())
	return errors.Join(errs...)
}
