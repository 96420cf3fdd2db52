package transport

import (
	"math/rand/v2"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// minMemDelay is the floor of every simulated delivery delay: the network
// is never instantaneous, so a ping-pong of handlers that answer at once
// still advances the clock and every Advance call terminates.
const minMemDelay = time.Microsecond

// Faults describes how a simulated link misbehaves. The zero value is a
// perfect link with the minimum delay.
type Faults struct {
	// DropRate is the probability that a message (or a coalesced heartbeat
	// frame, or a snapshot) is lost. [0, 1].
	DropRate float64
	// DuplicateRate is the probability that a message is delivered twice
	// (each copy with its own delay). [0, 1].
	DuplicateRate float64
	// MinDelay and MaxDelay bound the uniformly distributed delivery delay.
	MinDelay, MaxDelay time.Duration
	// ReorderRate is the probability that a message is held back by an
	// extra delay uniform in [0, ReorderWindow), so later messages overtake
	// it. [0, 1].
	ReorderRate   float64
	ReorderWindow time.Duration
}

// delay draws a delivery delay.
func (f *Faults) delay(rng *rand.Rand) time.Duration {
	d := f.MinDelay
	if f.MaxDelay > f.MinDelay {
		d += time.Duration(rng.Int64N(int64(f.MaxDelay - f.MinDelay)))
	}
	if f.ReorderRate > 0 && f.ReorderWindow > 0 && rng.Float64() < f.ReorderRate {
		d += time.Duration(rng.Int64N(int64(f.ReorderWindow)))
	}
	return max(d, minMemDelay)
}

type linkKey struct{ from, to raftpb.NodeID }

// SetFaults sets the faults of every link without its own.
func (n *MemNetwork) SetFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
}

// SetLinkFaults sets the faults of the one-way link from -> to.
func (n *MemNetwork) SetLinkFaults(from, to raftpb.NodeID, f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[linkKey{from, to}] = f
}

// Cut blocks the one-way link from -> to: messages on it are lost, also
// those already in flight. The reverse direction is unaffected.
func (n *MemNetwork) Cut(from, to raftpb.NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[linkKey{from, to}] = true
}

// Partition cuts every link between a node of a and a node of b, both ways.
func (n *MemNetwork) Partition(a, b []raftpb.NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[linkKey{x, y}] = true
			n.cut[linkKey{y, x}] = true
		}
	}
}

// Isolate cuts every link to and from node.
func (n *MemNetwork) Isolate(node raftpb.NodeID) {
	n.mu.Lock()
	others := make([]raftpb.NodeID, 0, len(n.nodes))
	for id := range n.nodes {
		if id != node {
			others = append(others, id)
		}
	}
	n.mu.Unlock()
	n.Partition([]raftpb.NodeID{node}, others)
}

// Heal restores every cut link (faults set with SetFaults or SetLinkFaults
// stay).
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
}

// faultsLocked returns the faults of link from -> to.
func (n *MemNetwork) faultsLocked(from, to raftpb.NodeID) *Faults {
	if f, ok := n.links[linkKey{from, to}]; ok {
		return &f
	}
	return &n.faults
}
