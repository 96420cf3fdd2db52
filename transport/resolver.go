package transport

import (
	"fmt"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Resolver maps a node to its transport address ("host:port"). Placement
// implements it from gossip metadata. Resolve is called on every dial, from
// transport goroutines; it must be safe for concurrent use and should not
// block for long. An error or an empty address counts as a failed dial.
type Resolver interface {
	Resolve(node raftpb.NodeID) (string, error)
}

// StaticResolver is a Resolver over a fixed set of addresses that can be
// changed at run time. It is safe for concurrent use; the zero value is
// empty and ready.
type StaticResolver struct {
	mu    sync.RWMutex
	addrs map[raftpb.NodeID]string
}

// Set records node's address.
func (r *StaticResolver) Set(node raftpb.NodeID, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.addrs == nil {
		r.addrs = make(map[raftpb.NodeID]string)
	}
	r.addrs[node] = addr
}

// Resolve implements Resolver.
func (r *StaticResolver) Resolve(node raftpb.NodeID) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a, ok := r.addrs[node]; ok {
		return a, nil
	}
	return "", fmt.Errorf("%w %d", ErrUnknownPeer, node)
}
