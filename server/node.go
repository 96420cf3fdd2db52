package server

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/flotilladb/flotilla/placement"
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
	// Placement, when set, makes the node a member of a placement-managed
	// cluster: gossip membership (Placement.Gossip, Seeds,
	// BootstrapExpect), the meta shard and the placement driver. Its Store
	// field is replaced by Store above. Nil: a single node or a static
	// cluster (Store.Peers).
	Placement *placement.Options
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
	if err := o.Server.validateLimits(); err != nil {
		return err
	}
	return o.Store.Validate()
}

// Node is one running node: the store (with its transport between
// nodes) and the client-facing server.
type Node struct {
	Store  *shard.Store
	Server *Server
	// Placement is the node's placement layer (nil in a static cluster).
	Placement *placement.Node
	closed    atomic.Bool
}

// OpenNode opens the store (creating or recovering it) and its server.
// Close stops them in reverse order.
func OpenNode(ctx context.Context, o NodeOptions) (*Node, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// Bind the client ports first: a port in use (or a bad address) must
	// fail before the store creates or recovers anything on disk.
	lns, err := listen(&o.Server)
	if err != nil {
		return nil, err
	}
	n := &Node{}
	if o.Placement != nil {
		po := *o.Placement
		po.Store = o.Store
		pn, err := placement.Open(ctx, po)
		if err != nil {
			lns.close()
			return nil, err
		}
		n.Placement, n.Store = pn, pn.Store()
	} else {
		st, err := shard.Open(ctx, o.Store)
		if err != nil {
			lns.close()
			return nil, err
		}
		n.Store = st
	}
	srvOpts := o.Server
	srvOpts.Store = n.Store
	srvOpts.Placement = n.Placement
	if n.Server, err = serve(srvOpts, lns); err != nil {
		lns.close()
		_ = n.Close()
		return nil, err
	}
	if n.Placement != nil {
		// The client and HTTP ports are known now: advertise them.
		if err := n.Placement.Advertise(n.Server.ClientAddr(), n.Server.HTTPAddr()); err != nil {
			_ = n.Close()
			return nil, err
		}
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
	if n.Placement != nil {
		errs = append(errs, n.Placement.Close())
	} else {
		errs = append(errs, n.Store.Close())
	}
	return errors.Join(errs...)
}
