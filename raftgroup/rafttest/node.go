package rafttest

import (
	"fmt"
	"math/rand/v2"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// simGroup is the group every simulated replica belongs to.
const simGroup raftpb.GroupID = 1

// node is one simulated replica and the host around it: its durable log
// (a MemoryStorage written only when a persist completes), its state
// machine, the Ready being persisted, and the checker's view of its log.
type node struct {
	id    raftpb.NodeID
	g     *raftgroup.Group // nil while the node is down
	store *raftgroup.MemoryStorage
	sm    stateMachine
	// pending is the Ready handed out and not yet durable: its Messages
	// are sent, its MessagesAfterPersist wait, its entries and hard state
	// are lost if the node crashes first.
	pending *raftgroup.Ready
	// log is the log as handed out through Ready (durable or not).
	log shadowLog
	// unsynced are the entries of the pending Ready, registered with the
	// checker once durable.
	unsynced []shadowEntry
	// hs is the last hard state handed out (or read back at restart).
	hs raftpb.HardState
	// nextApply is the index the next CommittedEntries must start at.
	nextApply raftpb.Index
	// asked are read requests not yet confirmed or dropped; confirmed wait
	// until the state machine has applied their index.
	asked     []uint64
	confirmed []uint64

	incarnation int
	// driftEvery and drift model a clock that runs at a slightly different
	// rate: every driftEvery ticks this node gets 1+drift ticks (drift -1:
	// it skips one; +1: it takes two). 0: no drift.
	driftEvery, drift int
	downSince         int
	// orphanTicks counts ticks a quiet follower has been cut off from its
	// leader; the host's failure detector wakes it after a while.
	orphanTicks int
}

func newNode(id raftpb.NodeID, cs raftpb.ConfState) *node {
	return &node{id: id, store: raftgroup.NewMemoryStorage(cs), sm: newStateMachine(cs), log: newShadowLog()}
}

func (n *node) up() bool { return n.g != nil }

// start (re)creates the replica from what is durable: the log and hard
// state in store, the state machine's durable applied index and the
// membership as of that index.
func (n *node) start(cfg raftgroup.Config, c *checker, rng *rand.Rand) error {
	n.sm.crash()
	n.store.SetConfState(n.sm.durable.cs)
	cfg.ID, cfg.Group, cfg.Applied = n.id, simGroup, n.sm.durable.applied
	cfg.Storage = hostStorage{MemoryStorage: n.store, n: n, rng: rng}
	g, err := raftgroup.New(cfg)
	if err != nil {
		return fmt.Errorf("n%d restart: %w", n.id, err)
	}
	n.g = g
	n.pending = nil
	n.hs = n.store.HardState()
	n.asked, n.confirmed = nil, nil
	n.orphanTicks = 0
	first, _ := n.store.FirstIndex()
	if first-1 > n.sm.durable.applied {
		return fmt.Errorf("n%d: log compacted to %d past the state machine's durable applied index %d", n.id, first-1, n.sm.durable.applied)
	}
	n.nextApply = n.sm.durable.applied + 1
	return n.rebuildLog(c)
}

// rebuildLog resets the shadow log to the durable log.
func (n *node) rebuildLog(c *checker) error {
	first, _ := n.store.FirstIndex()
	last, _ := n.store.LastIndex()
	base := shadowEntry{index: first - 1}
	if base.index > 0 {
		t, err := n.store.Term(base.index)
		if err != nil || base.index > c.lastCommitted() || c.canon[base.index].entry.Term != t {
			return fmt.Errorf("n%d: durable log starts after %d/t%d, not a committed entry", n.id, base.index, t)
		}
		base.term, base.chain = t, c.canon[base.index].chain
	}
	n.log.reset(base)
	if last < first {
		return nil
	}
	ents, err := n.store.Entries(first, last+1, ^uint64(0))
	if err != nil {
		return fmt.Errorf("n%d: reading durable log: %w", n.id, err)
	}
	added, err := n.log.append(ents)
	if err != nil {
		return fmt.Errorf("n%d: durable log: %w", n.id, err)
	}
	return c.register(n.id, added)
}

// crash loses everything not durable: the pending Ready (its entries, hard
// state and unsent MessagesAfterPersist), the state machine's unsynced
// applies, and the read requests waiting here.
func (n *node) crash(now int) {
	n.g = nil
	n.pending = nil
	n.unsynced = nil
	n.sm.crash()
	n.asked, n.confirmed = nil, nil
	n.downSince = now
	n.incarnation++
}
