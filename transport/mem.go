package transport

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// MemNetwork is an in-memory network of MemTransports for tests:
// deterministic under its seed, driven by an explicit virtual clock
// (Advance), with fault injection (loss, delay distribution, reordering,
// duplication, partitions and one-way cuts). Nothing happens on its own:
// messages are delivered only inside Advance, on the caller's goroutine,
// in (delivery time, send order) order. Given the same seed and the same
// sequence of calls it delivers the same messages at the same times.
// Each one-way link holds at most DefaultMaxQueuedMessages Raft messages
// and DefaultMaxQueuedHeartbeats heartbeats in flight, as the TCP
// transport queues at most that many per peer; past that, new messages
// are dropped and counted (MemStats.Dropped, MemStats.QueueFull).
//
// It is safe for concurrent use, but determinism needs the calls to come
// in a deterministic order (one goroutine). No lock is held while a
// Handler runs, so handlers may send, and other goroutines may send while
// an Advance delivers.
type MemNetwork struct {
	mu   sync.Mutex
	seed uint64
	rng  *rand.Rand
	now  time.Duration
	// windowEnd is the end of the latest Advance's window. Messages are
	// stamped from max(now, windowEnd): those sent while an Advance runs
	// fall due after its window.
	// Invariant: windowEnd <= now once no Advance is running.
	windowEnd time.Duration
	seq       uint64
	nodes     map[raftpb.NodeID]*MemTransport
	faults    Faults
	links     map[linkKey]Faults
	cut       map[linkKey]bool
	queue     memQueue
	// load counts what each link has in queue, for the bounds in
	// admitLocked; a link with nothing in flight has no entry.
	// Invariant: load[l] sums queue's items on link l.
	load   map[linkKey]*linkLoad
	stats  MemStats
	closed bool // by Close: nothing travels any more
}

// MemStats counts what a MemNetwork did.
type MemStats struct {
	Sent      uint64 // messages posted (heartbeats included)
	Delivered uint64 // messages handed to a Handler
	// Dropped counts messages lost to DropRate, cuts, closed nodes,
	// Close or a full link (QueueFull), like the TCP transport's
	// Metrics.MessagesDropped.
	Dropped uint64
	// QueueFull counts, of Dropped, the messages refused because their
	// link already held DefaultMaxQueuedMessages Raft messages (or
	// DefaultMaxQueuedHeartbeats heartbeats) in flight, or because the
	// sender's heartbeat buffer for the peer was full.
	QueueFull       uint64
	Duplicated      uint64
	HeartbeatFrames uint64 // coalesced heartbeat frames posted
	// ReadHeartbeatFrames: those posted by FlushReadHeartbeats.
	ReadHeartbeatFrames uint64
	Snapshots           uint64 // snapshots installed
}

// NewMemNetwork returns an empty network whose randomness comes only from
// seed; f applies to every link until changed.
func NewMemNetwork(seed uint64, f Faults) *MemNetwork {
	return &MemNetwork{
		seed:   seed,
		rng:    rand.New(rand.NewPCG(seed, 0x666c6f74696c6c61)),
		nodes:  make(map[raftpb.NodeID]*MemTransport),
		faults: f,
		links:  make(map[linkKey]Faults),
		cut:    make(map[linkKey]bool),
		load:   make(map[linkKey]*linkLoad),
	}
}

// Seed returns the seed, for failure messages.
func (n *MemNetwork) Seed() uint64 { return n.seed }

// Now returns the virtual time.
func (n *MemNetwork) Now() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// Stats returns the counters.
func (n *MemNetwork) Stats() MemStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Pending returns the number of deliveries in flight.
func (n *MemNetwork) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

// Add attaches node id with handler h and returns its transport. Adding an
// existing id replaces it (a restarted node).
func (n *MemNetwork) Add(id raftpb.NodeID, h Handler) *MemTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := &MemTransport{n: n, id: id, h: h, hb: make(map[raftpb.NodeID]*hbBuffer)}
	n.nodes[id] = t
	return t
}

// Advance moves the clock forward by d, delivering, in order, every
// message in flight that falls due by then, and returns the number
// delivered.
//
// A message sent while Advance runs, by a Handler it calls or by another
// goroutine, is stamped from the end of the window, so it falls due after
// it and waits for a later call. Thus one call delivers at most what was
// in flight when it began, even while other goroutines keep sending. NB:
// stamping them from the delivery under way instead, and delivering them
// in the same call when due within d, let a call run for as long as other
// goroutines kept answering its deliveries: the real-time pump of shard's
// cluster tests never returned under -race.
func (n *MemNetwork) Advance(d time.Duration) int {
	n.mu.Lock()
	target := n.now + d
	n.windowEnd = max(n.windowEnd, target)
	n.mu.Unlock()
	delivered := 0
	for {
		n.mu.Lock()
		if len(n.queue) == 0 || n.queue[0].at > target {
			n.now = max(n.now, target)
			n.mu.Unlock()
			return delivered
		}
		it := heap.Pop(&n.queue).(*memItem)
		n.releaseLocked(it)
		n.now = max(n.now, it.at)
		dst := n.nodes[it.to]
		if n.cut[linkKey{it.from, it.to}] || dst == nil || dst.closed {
			n.stats.Dropped += uint64(len(it.msgs))
			n.mu.Unlock()
			continue
		}
		n.stats.Delivered += uint64(len(it.msgs))
		n.mu.Unlock()
		dst.h.HandleMessages(it.msgs)
		delivered += len(it.msgs)
	}
}

// Close stops the network for good, so that the owner of a goroutine
// that keeps calling Advance while other goroutines send can stop it
// promptly, whatever is in flight: an Advance under way returns once the
// delivery at hand is done, what was in flight is discarded (counted as
// Dropped), and from then on messages are dropped, snapshots fail and
// Calls fail with ErrClosed. A test cluster closes its network before
// its nodes: with a large backlog, even one Advance (bounded by what was
// in flight when it began) can take minutes under -race.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for _, it := range n.queue {
		n.stats.Dropped += uint64(len(it.msgs))
	}
	n.queue = nil
	clear(n.load)
}

// Drain advances in steps of step until nothing is in flight or maxSteps
// steps have passed, and returns the number delivered.
func (n *MemNetwork) Drain(step time.Duration, maxSteps int) int {
	total := 0
	for i := 0; i < maxSteps && n.Pending() > 0; i++ {
		total += n.Advance(step)
	}
	return total
}

// postLocked puts msgs (one delivery unit: a Raft message, or a frame of
// heartbeats when hb is set) in flight from -> to, applying the link's
// faults and its bound (admitLocked).
func (n *MemNetwork) postLocked(from, to raftpb.NodeID, msgs []raftpb.Message, hb bool) {
	n.stats.Sent += uint64(len(msgs))
	f := n.faultsLocked(from, to)
	if n.closed || n.cut[linkKey{from, to}] || (f.DropRate > 0 && n.rng.Float64() < f.DropRate) {
		n.stats.Dropped += uint64(len(msgs))
		return
	}
	copies := 1
	if f.DuplicateRate > 0 && n.rng.Float64() < f.DuplicateRate {
		copies = 2
		n.stats.Duplicated += uint64(len(msgs))
	}
	for c := 0; c < copies; c++ {
		batch := n.admitLocked(linkKey{from, to}, msgs, hb)
		if len(batch) == 0 {
			continue
		}
		if c > 0 {
			batch = cloneMessages(batch)
		}
		n.seq++
		at := max(n.now, n.windowEnd) + f.delay(n.rng)
		heap.Push(&n.queue, &memItem{at: at, seq: n.seq, from: from, to: to, msgs: batch, hb: hb})
	}
}

// admitLocked applies link l's bound to a delivery unit about to go in
// flight and returns the part admitted (counted in l's load); the rest is
// dropped and counted, as the TCP transport drops what finds a peer's
// queue full: the newest messages go, what is queued stays. The bound on
// Raft messages is the TCP transport's default MaxQueuedMessages, on
// heartbeats its default MaxQueuedHeartbeats, so a test sees the same
// drops on either transport.
//
// Why in flight and not "waiting to leave" as in the TCP transport: here
// the queue is also the wire, and nothing drains it but Advance. Unbounded,
// a run whose Advance fell behind the senders (elections collapsing under
// -race) held 400,000 messages and 722 MB. Snapshots and Calls need no
// bound: they travel synchronously, on the sender's goroutine, and never
// wait in the queue.
func (n *MemNetwork) admitLocked(l linkKey, msgs []raftpb.Message, hb bool) []raftpb.Message {
	ld := n.load[l]
	if ld == nil {
		ld = &linkLoad{}
		n.load[l] = ld
	}
	count, limit := &ld.messages, DefaultMaxQueuedMessages
	if hb {
		count, limit = &ld.heartbeats, DefaultMaxQueuedHeartbeats
	}
	room := max(limit-*count, 0)
	if room < len(msgs) {
		lost := uint64(len(msgs) - room)
		n.stats.Dropped += lost
		n.stats.QueueFull += lost
		msgs = msgs[:room]
	}
	*count += len(msgs)
	if ld.messages == 0 && ld.heartbeats == 0 {
		delete(n.load, l)
	}
	return msgs
}

// releaseLocked takes it, just out of the queue, off its link's load.
func (n *MemNetwork) releaseLocked(it *memItem) {
	l := linkKey{it.from, it.to}
	ld := n.load[l]
	if ld == nil {
		panic(fmt.Sprintf("transport: MemNetwork delivery on link %d->%d not counted in its load", it.from, it.to))
	}
	if it.hb {
		ld.heartbeats -= len(it.msgs)
	} else {
		ld.messages -= len(it.msgs)
	}
	if ld.messages < 0 || ld.heartbeats < 0 {
		panic(fmt.Sprintf("transport: MemNetwork link %d->%d load below zero: %+v", it.from, it.to, *ld))
	}
	if ld.messages == 0 && ld.heartbeats == 0 {
		delete(n.load, l)
	}
}

// InFlight returns what link from -> to holds in flight: Raft messages
// (at most DefaultMaxQueuedMessages) and heartbeats (at most
// DefaultMaxQueuedHeartbeats).
func (n *MemNetwork) InFlight(from, to raftpb.NodeID) (messages, heartbeats int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ld := n.load[linkKey{from, to}]; ld != nil {
		return ld.messages, ld.heartbeats
	}
	return 0, 0
}

// linkLoad is what one link has in flight.
// Invariant: messages <= DefaultMaxQueuedMessages and heartbeats <=
// DefaultMaxQueuedHeartbeats.
type linkLoad struct{ messages, heartbeats int }

// MemTransport is one node's endpoint on a MemNetwork. It implements
// Sender with the same coalescing rule as Transport: heartbeats are held
// per peer (one per type and group) until FlushHeartbeats, which posts one
// frame per peer. Other messages travel one by one, each subject to the
// link's faults. Messages are deep-copied, as a real network would.
type MemTransport struct {
	n      *MemNetwork
	id     raftpb.NodeID
	h      Handler
	hb     map[raftpb.NodeID]*hbBuffer // guarded by n.mu
	closed bool                        // guarded by n.mu
}

// Send implements Sender.
func (t *MemTransport) Send(msgs ...raftpb.Message) {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if t.unusableLocked() {
		return
	}
	for i := range msgs {
		m := cloneMessage(&msgs[i])
		m.From = t.id
		if m.Type.IsHeartbeat() {
			b := t.hb[m.To]
			if b == nil {
				b = &hbBuffer{}
				t.hb[m.To] = b
			}
			if !b.add(&m, DefaultMaxQueuedHeartbeats) {
				// A new group's heartbeat finds the buffer full: dropped
				// and counted, as the TCP transport does.
				n.stats.Sent++
				n.stats.Dropped++
				n.stats.QueueFull++
			}
			continue
		}
		n.postLocked(t.id, m.To, []raftpb.Message{m}, false)
	}
}

// FlushHeartbeats implements Sender: one frame per peer with heartbeats
// queued, peers in node order (for determinism).
func (t *MemTransport) FlushHeartbeats() { t.flushHeartbeats(false) }

// FlushReadHeartbeats implements Sender: FlushHeartbeats, counted apart.
func (t *MemTransport) FlushReadHeartbeats() { t.flushHeartbeats(true) }

func (t *MemTransport) flushHeartbeats(read bool) {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	peers := make([]raftpb.NodeID, 0, len(t.hb))
	for id, b := range t.hb {
		if b.len() > 0 {
			peers = append(peers, id)
		}
	}
	slices.Sort(peers)
	for _, id := range peers {
		if read {
			n.stats.ReadHeartbeatFrames++
		} else {
			n.stats.HeartbeatFrames++
		}
		n.postLocked(t.id, id, t.hb[id].take(nil), true)
	}
}

// SendSnapshot implements Sender. The snapshot is read whole and installed
// synchronously on the receiver (no clock involved); a cut link in either
// direction, or a DropRate draw, fails it with ErrSnapshotFailed.
func (t *MemTransport) SendSnapshot(ctx context.Context, msg raftpb.Message, src SnapshotSource) error {
	r, err := src.Open()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotFailed, err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotFailed, err)
	}
	n := t.n
	n.mu.Lock()
	dst := n.nodes[msg.To]
	f := n.faultsLocked(t.id, msg.To)
	lost := n.cut[linkKey{t.id, msg.To}] || n.cut[linkKey{msg.To, t.id}] || dst == nil || dst.closed ||
		t.unusableLocked() || (f.DropRate > 0 && n.rng.Float64() < f.DropRate)
	n.mu.Unlock()
	if lost {
		return fmt.Errorf("%w: link %d->%d down", ErrSnapshotFailed, t.id, msg.To)
	}
	m := cloneMessage(&msg)
	m.From = t.id
	if err := dst.h.HandleSnapshot(ctx, m, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotRejected, err)
	}
	n.mu.Lock()
	n.stats.Snapshots++
	n.mu.Unlock()
	return nil
}

// unusableLocked reports whether t can no longer send: it or its network is
// closed.
func (t *MemTransport) unusableLocked() bool { return t.closed || t.n.closed }

// Close detaches the node: its sends are ignored and messages to it lost.
func (t *MemTransport) Close() error {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	t.closed = true
	return nil
}

// memItem is one delivery in flight.
type memItem struct {
	at       time.Duration
	seq      uint64
	from, to raftpb.NodeID
	msgs     []raftpb.Message
	hb       bool // a frame of heartbeats: counts in linkLoad.heartbeats
}

// memQueue is a min-heap of deliveries by (at, seq).
type memQueue []*memItem

func (q memQueue) Len() int { return len(q) }
func (q memQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q memQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *memQueue) Push(x any)   { *q = append(*q, x.(*memItem)) }
func (q *memQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

func cloneMessages(ms []raftpb.Message) []raftpb.Message {
	out := make([]raftpb.Message, len(ms))
	for i := range ms {
		out[i] = cloneMessage(&ms[i])
	}
	return out
}

// cloneMessage deep-copies m, so sender and receiver share no memory.
func cloneMessage(m *raftpb.Message) raftpb.Message {
	c := *m
	if m.Entries != nil {
		c.Entries = make([]raftpb.Entry, len(m.Entries))
		for i, e := range m.Entries {
			e.Data = bytes.Clone(e.Data)
			c.Entries[i] = e
		}
	}
	if m.Snapshot != nil {
		s := *m.Snapshot
		cs := &s.Metadata.ConfState
		cs.Voters, cs.VotersOutgoing = slices.Clone(cs.Voters), slices.Clone(cs.VotersOutgoing)
		cs.Learners, cs.LearnersNext = slices.Clone(cs.Learners), slices.Clone(cs.LearnersNext)
		s.Data = bytes.Clone(s.Data)
		c.Snapshot = &s
	}
	return c
}
