package rafttest

import (
	"math/rand/v2"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// envelope is a message in flight.
type envelope struct {
	msg raftpb.Message
	// at is the first tick at which the message may be delivered.
	at int
}

// network is the simulated transport: a bag of messages in flight, each
// deliverable once its delay has passed, delivered in random order (so
// messages are reordered), possibly dropped or duplicated when sent, and
// lost when a link is cut at delivery time.
//
// Invariant: len(queue) <= maxQueue.
type network struct {
	rng      *rand.Rand
	queue    []envelope
	maxQueue int

	dropRate float64
	dupRate  float64
	maxDelay int
	// cut[from][to] drops every message on that link (partitions, one
	// way or both ways).
	cut [][]bool

	sent, dropped, duplicated, delivered int
}

func newNetwork(rng *rand.Rand, cfg Config, maxNodes int) *network {
	n := &network{rng: rng, maxQueue: cfg.MaxQueuedMessages, dropRate: cfg.DropRate,
		dupRate: cfg.DupRate, maxDelay: cfg.MaxDelayTicks}
	n.cut = make([][]bool, maxNodes+1)
	for i := range n.cut {
		n.cut[i] = make([]bool, maxNodes+1)
	}
	return n
}

// send puts m in flight at tick now, unless the network loses it. It
// reports whether at least one copy was queued.
func (n *network) send(m raftpb.Message, now int) bool {
	n.sent++
	if n.dropRate > 0 && n.rng.Float64() < n.dropRate {
		n.dropped++
		return false
	}
	copies := 1
	if n.dupRate > 0 && n.rng.Float64() < n.dupRate {
		copies = 2
		n.duplicated++
	}
	queued := false
	for range copies {
		if len(n.queue) >= n.maxQueue {
			n.dropped++
			continue
		}
		n.queue = append(n.queue, envelope{msg: m, at: now + n.rng.IntN(n.maxDelay+1)})
		queued = true
	}
	return queued
}

// deliverable counts the messages that may be delivered at tick now.
func (n *network) deliverable(now int) int {
	k := 0
	for i := range n.queue {
		if n.queue[i].at <= now {
			k++
		}
	}
	return k
}

// take removes and returns a random deliverable message; ok is false if
// there is none.
func (n *network) take(now int) (m raftpb.Message, ok bool) {
	k := n.deliverable(now)
	if k == 0 {
		return m, false
	}
	pick := n.rng.IntN(k)
	for i := range n.queue {
		if n.queue[i].at > now {
			continue
		}
		if pick > 0 {
			pick--
			continue
		}
		m = n.queue[i].msg
		last := len(n.queue) - 1
		n.queue[i] = n.queue[last]
		n.queue[last] = envelope{}
		n.queue = n.queue[:last]
		return m, true
	}
	return m, false
}

// blocked reports whether the link from -> to is cut.
func (n *network) blocked(from, to raftpb.NodeID) bool {
	return int(from) < len(n.cut) && int(to) < len(n.cut) && n.cut[from][to]
}

// heal restores every link, stops drops and duplicates, and bounds delays
// to one tick: Raft's timing assumption (a round trip well within the
// election timeout) holds again.
func (n *network) heal() {
	for i := range n.cut {
		clear(n.cut[i])
	}
	n.dropRate, n.dupRate = 0, 0
	n.maxDelay = min(n.maxDelay, 1)
}
