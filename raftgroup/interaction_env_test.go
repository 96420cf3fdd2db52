package raftgroup

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// interactionGroup is the group ID every scripted replica belongs to.
const interactionGroup raftpb.GroupID = 1

// iNode is one scripted replica: the Group, its durable storage and what
// its state machine has applied.
type iNode struct {
	g   *Group
	st  *MemoryStorage
	cfg Config
	// applied is the last index the harness's state machine applied.
	applied raftpb.Index
	// term and commit are the highest seen since the node (re)started:
	// neither may go backwards.
	term   raftpb.Term
	commit raftpb.Index
	// pending is a Ready handed out and not yet persisted (see ready and
	// persist).
	pending *Ready
}

// link is a directed connection between two replicas.
type link struct{ from, to raftpb.NodeID }

// iEnv is the world a script drives: replicas, the messages in flight
// between them, the links that are cut, and the record the invariant
// checks compare against. It is created fresh for every script file.
type iEnv struct {
	t     testing.TB
	nodes map[raftpb.NodeID]*iNode
	ids   []raftpb.NodeID // ascending, for deterministic output
	// queue holds messages sent and not yet delivered, in send order.
	queue []raftpb.Message
	cut   map[link]bool
	// leaders records the leader seen in each term (at most one).
	leaders map[raftpb.Term]raftpb.NodeID
	// appliedAt records the first entry applied at each index by any
	// replica; every other replica must apply the same one.
	appliedAt map[raftpb.Index]raftpb.Entry
	// counts tallies delivered messages by type, rejections apart (see
	// msg-counts).
	counts map[string]int
	out    *strings.Builder
}

func newIEnv(t testing.TB) *iEnv {
	return &iEnv{
		t:         t,
		nodes:     map[raftpb.NodeID]*iNode{},
		cut:       map[link]bool{},
		leaders:   map[raftpb.Term]raftpb.NodeID{},
		appliedAt: map[raftpb.Index]raftpb.Entry{},
		counts:    map[string]int{},
	}
}

func (e *iEnv) printf(format string, args ...any) { fmt.Fprintf(e.out, format, args...) }

// node returns the replica id or fails the script.
func (e *iEnv) node(id raftpb.NodeID) *iNode {
	n := e.nodes[id]
	if n == nil {
		e.t.Fatalf("no node %d", id)
	}
	return n
}

// addNode creates replica id with storage holding cs as its membership.
func (e *iEnv) addNode(id raftpb.NodeID, cs raftpb.ConfState, cfg Config) {
	st := NewMemoryStorage(cs)
	cfg.ID, cfg.Group, cfg.Storage = id, interactionGroup, st
	g, err := New(cfg)
	if err != nil {
		e.t.Fatalf("new node %d: %v", id, err)
	}
	e.nodes[id] = &iNode{g: g, st: st, cfg: cfg, applied: g.log.applied}
	e.ids = append(e.ids, id)
	slices.Sort(e.ids)
}

// restart replaces node id with a new Group built from its storage, as
// after a crash: everything not persisted through a Ready is lost. The
// harness's state machine is durable with its applied index, as a real
// one is (the storage's snapshot holds the membership as of its last
// change, see processReady).
func (e *iEnv) restart(id raftpb.NodeID) {
	n := e.node(id)
	cfg := n.cfg
	cfg.Applied = n.applied
	g, err := New(cfg)
	if err != nil {
		e.t.Fatalf("restart node %d: %v", id, err)
	}
	// NB: a commit index learned after the last Ready was not persisted;
	// the restarted node may start below it and learn it again.
	n.g, n.commit, n.pending = g, g.log.committed, nil
}

// processReady handles one Ready of node id as a correct host would:
// persist, queue messages, apply, advance. It prints the Ready and
// reports whether there was one.
func (e *iEnv) processReady(id raftpb.NodeID) bool {
	if !e.takeReady(id) {
		return false
	}
	e.persist(id)
	return true
}

// takeReady takes node id's Ready, prints it and queues its Messages
// (those may leave before the write is durable); the rest waits for
// persist. It reports whether there was a Ready. A node holding a Ready
// not yet persisted gets no other.
func (e *iEnv) takeReady(id raftpb.NodeID) bool {
	n := e.node(id)
	if n.pending != nil || !n.g.HasReady() {
		return false
	}
	rd := n.g.Ready()
	e.printf("> %d ready\n", id)
	desc := describeReady(rd)
	if desc == "" {
		e.t.Fatalf("node %d: HasReady was true but the Ready is empty", id)
	}
	e.printf("%s", desc)
	e.queue = append(e.queue, rd.Messages...)
	n.pending = &rd
	return true
}

// persist finishes node id's pending Ready: it makes the snapshot,
// entries and hard state durable, then sends MessagesAfterPersist,
// applies the committed entries and calls Advance.
func (e *iEnv) persist(id raftpb.NodeID) {
	n := e.node(id)
	rd := n.pending
	if rd == nil {
		e.t.Fatalf("node %d has no Ready to persist", id)
	}
	n.pending = nil
	if rd.Snapshot != nil {
		if err := n.st.ApplySnapshot(*rd.Snapshot); err != nil {
			e.t.Fatalf("node %d: apply snapshot: %v", id, err)
		}
		n.applied = rd.Snapshot.Metadata.Index
	}
	if err := n.st.Append(rd.Entries); err != nil {
		e.t.Fatalf("node %d: append: %v", id, err)
	}
	if !rd.HardState.IsEmpty() {
		n.st.SetHardState(rd.HardState)
	}
	e.queue = append(e.queue, rd.MessagesAfterPersist...)
	confChanged := false
	for _, ent := range rd.CommittedEntries {
		e.apply(id, n, ent)
		confChanged = confChanged || ent.Type == raftpb.EntryConfChange
	}
	n.g.Advance(*rd)
	if confChanged {
		e.snapshotMembership(id, n)
	}
	e.checkInvariants()
}

// snapshotMembership takes a snapshot after a membership change was
// applied. Like a real state machine, which snapshots on demand, the
// storage's snapshot must carry the membership in force: a node being
// added catches up from it.
func (e *iEnv) snapshotMembership(id raftpb.NodeID, n *iNode) {
	data := []byte(fmt.Sprintf("state@%d", n.applied))
	if err := n.st.CreateSnapshot(n.applied, n.g.ConfState(), data); err != nil {
		e.t.Fatalf("node %d: snapshot after membership change: %v", id, err)
	}
}

// apply records that node id applied ent and checks it against what the
// other replicas applied at that index.
func (e *iEnv) apply(id raftpb.NodeID, n *iNode, ent raftpb.Entry) {
	if ent.Index != n.applied+1 {
		e.t.Fatalf("invariant: node %d applied %d after %d (gap or repeat)", id, ent.Index, n.applied)
	}
	n.applied = ent.Index
	prev, ok := e.appliedAt[ent.Index]
	if !ok {
		e.appliedAt[ent.Index] = ent
		return
	}
	if prev.Term != ent.Term || prev.Type != ent.Type || string(prev.Data) != string(ent.Data) {
		e.t.Fatalf("invariant: node %d applied %s at %d, another node applied %s",
			id, describeEntry(ent), ent.Index, describeEntry(prev))
	}
}

// deliver steps every queued message addressed to one of to (all if
// empty) into its recipient, unless its link is cut, printing each. It
// reports whether any message was taken off the queue.
func (e *iEnv) deliver(to ...raftpb.NodeID) bool {
	var now, keep []raftpb.Message
	for _, m := range e.queue {
		if len(to) == 0 || slices.Contains(to, m.To) {
			now = append(now, m)
		} else {
			keep = append(keep, m)
		}
	}
	e.queue = keep
	if len(now) == 0 {
		return false
	}
	e.printf("> deliver\n")
	for _, m := range now {
		e.deliverOne(m)
	}
	return true
}

func (e *iEnv) deliverOne(m raftpb.Message) {
	n := e.nodes[m.To]
	switch {
	case n == nil:
		e.printf("  %s (dropped: no such node)\n", describeMessage(m))
		return
	case e.cut[link{m.From, m.To}]:
		e.printf("  %s (dropped: link cut)\n", describeMessage(m))
		return
	}
	e.printf("  %s\n", describeMessage(m))
	key := m.Type.String()
	if m.Reject {
		key += " (reject)"
	}
	e.counts[key]++
	err := n.g.Step(m)
	if err != nil {
		e.printf("    error: %v\n", err)
	}
	if from := e.nodes[m.From]; m.Type == raftpb.MsgSnap && from != nil {
		// The host reports the end of a snapshot transfer to the sender.
		from.g.ReportSnapshot(m.To, err != nil)
	}
	e.checkInvariants()
}

// stabilize alternates handling every Ready and delivering every message
// until nothing is left to do. Only the listed nodes take part (all if
// none); messages to others stay queued.
func (e *iEnv) stabilize(ids ...raftpb.NodeID) {
	if len(ids) == 0 {
		ids = e.ids
	}
	for round := 0; ; round++ {
		if round > 1000 {
			e.t.Fatalf("stabilize: still busy after %d rounds", round)
		}
		busy := false
		for _, id := range ids {
			if e.processReady(id) {
				busy = true
			}
		}
		if e.deliver(ids...) {
			busy = true
		}
		if !busy {
			return
		}
	}
}
