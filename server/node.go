package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
	"github.com/flotilladb/flotilla/transport"
)

// NodeOptions configures a Node: a store with its TCP transport and its
// server. Zero values take the defaults of shard.Options and Options.
type NodeOptions struct {
	// Store configures the store. Store.Peers lists the Raft addresses of
	// a static cluster (empty: a single node). The node creates the TCP
	// transport itself, so Store.Transport and Store.Caller must be nil.
	Store shard.Options
	// Server configures the RESP and HTTP server (Server.Store is set by
	// OpenNode).
	Server Options
	// PeerHTTP maps each peer to its HTTP address, where requests reaching
	// a node that does not lead the key's shard are forwarded. A peer
	// missing from it cannot be forwarded to: such requests fail with a
	// "not leader" error naming the leader.
	PeerHTTP map[raftpb.NodeID]string
}

// Node is one running node: the store, the transport between nodes and
// the client-facing server.
type Node struct {
	Store  *shard.Store
	Server *Server
	tr     *transport.Transport
	caller *HTTPCaller
	late   *lateHandler
	closed atomic.Bool
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
	if o.Store.Transport != nil || o.Store.Caller != nil {
		return errors.New("server: NodeOptions.Store must not set Transport or Caller")
	}
	for id := range o.PeerHTTP {
		if _, ok := o.Store.Peers[id]; !ok {
			return fmt.Errorf("server: PeerHTTP names node %d, which is not in Store.Peers", id)
		}
	}
	return o.Store.Validate()
}

// OpenNode opens the store (creating or recovering it), its transport
// and its server. Close stops them in reverse order.
func OpenNode(ctx context.Context, o NodeOptions) (*Node, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := &Node{}
	so := o.Store
	if len(so.Peers) > 0 {
		if err := n.openTransport(&so, o.PeerHTTP); err != nil {
			return nil, err
		}
	}
	st, err := shard.Open(ctx, so)
	if err != nil {
		n.closeTransport()
		return nil, err
	}
	n.Store = st
	if n.late != nil {
		n.late.s.Store(st)
	}
	srvOpts := o.Server
	srvOpts.Store = st
	if n.Server, err = New(srvOpts); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// openTransport starts the TCP transport before the store exists (the
// store needs it to open); lateHandler drops what arrives until then.
func (n *Node) openTransport(so *shard.Options, peerHTTP map[raftpb.NodeID]string) error {
	to := so.TransportOptions
	to.NodeID, to.ClusterID = so.NodeID, so.ClusterID
	to.ListenAddr = so.ListenAddr
	if to.ListenAddr == "" {
		to.ListenAddr = so.Peers[so.NodeID]
	}
	res := &transport.StaticResolver{}
	for id, addr := range so.Peers {
		res.Set(id, addr)
	}
	to.Resolver = res
	if to.Logger == nil {
		to.Logger = so.Logger
	}
	n.late = &lateHandler{}
	tr, err := transport.New(to, n.late)
	if err != nil {
		return fmt.Errorf("server: starting transport: %w", err)
	}
	n.tr = tr
	so.Transport = tr
	if len(peerHTTP) == 0 {
		return nil // no forwarding: requests at a non-leader get *NotLeaderError
	}
	n.caller = NewHTTPCaller(so.NodeID, func(id raftpb.NodeID) (string, error) {
		if a := peerHTTP[id]; a != "" {
			return a, nil
		}
		return "", fmt.Errorf("server: no HTTP address known for node %d", id)
	})
	so.Caller = n.caller
	return nil
}

// Close stops the server, then the store, then the transport. Calls
// after the first do nothing.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if n.Server != nil {
		errs = append(errs, n.Server.Close())
	}
	if n.late != nil {
		n.late.closed.Store(true)
	}
	if n.Store != nil {
		errs = append(errs, n.Store.Close())
	}
	n.closeTransport()
	return errors.Join(errs...)
}

func (n *Node) closeTransport() {
	if n.tr != nil {
		_ = n.tr.Close()
	}
	if n.caller != nil {
		n.caller.Close()
	}
}

// lateHandler delivers the transport's input to a store that opens after
// the transport starts, and drops it before and after the store's life
// (Raft tolerates lost messages).
type lateHandler struct {
	s      atomic.Pointer[shard.Store]
	closed atomic.Bool
}

func (h *lateHandler) HandleMessages(batch []raftpb.Message) {
	if s := h.s.Load(); s != nil && !h.closed.Load() {
		s.Handler().HandleMessages(batch)
	}
}

func (h *lateHandler) HandleSnapshot(ctx context.Context, m raftpb.Message, data io.Reader) error {
	s := h.s.Load()
	if s == nil || h.closed.Load() {
		return shard.ErrClosed
	}
	return s.Handler().HandleSnapshot(ctx, m, data)
}
