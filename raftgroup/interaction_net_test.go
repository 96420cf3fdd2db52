package raftgroup

import (
	"slices"

	"github.com/cockroachdb/datadriven"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// handleStabilize: stabilize [<id>...]. Handles Readys and delivers
// messages among the listed nodes (all if none) until nothing moves.
func (e *iEnv) handleStabilize(td *datadriven.TestData) {
	e.stabilize(e.nodeArgs(td)...)
}

// handleProcessReady: process-ready <id>... Handles one Ready per node.
func (e *iEnv) handleProcessReady(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		if !e.processReady(id) {
			e.printf("> %d no ready\n", id)
		}
	}
}

// handleReady: ready <id>... Takes each node's Ready and sends its
// Messages, but does not persist it yet: entries are not durable,
// MessagesAfterPersist wait, nothing is applied, Advance is not called.
func (e *iEnv) handleReady(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		if !e.takeReady(id) {
			e.printf("> %d no ready\n", id)
		}
	}
}

// handlePersist: persist <id>... Finishes the Ready taken by ready.
func (e *iEnv) handlePersist(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		e.printf("> %d persisted\n", id)
		e.persist(id)
	}
}

// handleDeliverMsgs: deliver-msgs [<id>...]. Delivers the queued messages
// addressed to the listed nodes (all if none). Messages sent while
// delivering stay queued.
func (e *iEnv) handleDeliverMsgs(td *datadriven.TestData) {
	if !e.deliver(e.nodeArgs(td)...) {
		e.printf("no messages\n")
	}
}

// handleDrop: drop [from=<id>] [to=<id>]. Discards matching queued
// messages, printing them: they were lost in the network.
func (e *iEnv) handleDrop(td *datadriven.TestData) {
	from := raftpb.NodeID(e.uintArg(td, "from", 0))
	to := raftpb.NodeID(e.uintArg(td, "to", 0))
	var keep []raftpb.Message
	for _, m := range e.queue {
		if (from == 0 || m.From == from) && (to == 0 || m.To == to) {
			e.printf("dropped: %s\n", describeMessage(m))
			continue
		}
		keep = append(keep, m)
	}
	e.queue = keep
}

// handleReorder: reorder [from=<id>] [to=<id>]. Reverses the order of
// the matching queued messages (the others keep their places), as a
// network that reorders would deliver them.
func (e *iEnv) handleReorder(td *datadriven.TestData) {
	from := raftpb.NodeID(e.uintArg(td, "from", 0))
	to := raftpb.NodeID(e.uintArg(td, "to", 0))
	var idx []int
	for i, m := range e.queue {
		if (from == 0 || m.From == from) && (to == 0 || m.To == to) {
			idx = append(idx, i)
		}
	}
	for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
		e.queue[idx[i]], e.queue[idx[j]] = e.queue[idx[j]], e.queue[idx[i]]
	}
}

// handleDuplicate: duplicate [from=<id>] [to=<id>]. Queues a second copy
// of every matching queued message, after all of them.
func (e *iEnv) handleDuplicate(td *datadriven.TestData) {
	from := raftpb.NodeID(e.uintArg(td, "from", 0))
	to := raftpb.NodeID(e.uintArg(td, "to", 0))
	for _, m := range e.queue {
		if (from == 0 || m.From == from) && (to == 0 || m.To == to) {
			e.queue = append(e.queue, m)
		}
	}
}

// handlePartition: partition <ids> / <ids> [/ ...]. Replaces the cut
// links with a partition into the given sets: messages between sets are
// dropped at delivery. Unlisted nodes keep all their links.
func (e *iEnv) handlePartition(td *datadriven.TestData) {
	clear(e.cut)
	var sets [][]raftpb.NodeID
	cur := []raftpb.NodeID{}
	for _, s := range positional(td) {
		if s == "/" {
			sets, cur = append(sets, cur), []raftpb.NodeID{}
			continue
		}
		cur = append(cur, raftpb.NodeID(e.parseUint(s)))
	}
	sets = append(sets, cur)
	for i, a := range sets {
		for j, b := range sets {
			if i == j {
				continue
			}
			for _, x := range a {
				for _, y := range b {
					e.cut[link{x, y}] = true
				}
			}
		}
	}
}

// handleIsolate: isolate <id>... Cuts every link to and from each node
// (adding to the cuts already in place).
func (e *iEnv) handleIsolate(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		for _, other := range e.ids {
			if other != id {
				e.cut[link{id, other}] = true
				e.cut[link{other, id}] = true
			}
		}
	}
}

// handleHeal: heal. Restores every link.
func (e *iEnv) handleHeal(*datadriven.TestData) { clear(e.cut) }

// handleMsgCounts: msg-counts [reset]. Prints how many messages of each
// type were delivered (not dropped) since the last reset.
func (e *iEnv) handleMsgCounts(td *datadriven.TestData) {
	var types []string
	for t := range e.counts {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		e.printf("%s: %d\n", t, e.counts[t])
	}
	if slices.Contains(positional(td), "reset") {
		clear(e.counts)
	}
}
