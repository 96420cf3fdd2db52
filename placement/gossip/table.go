package gossip

import (
	"sort"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// MaxPendingEvents bounds the events queued for the Events callbacks. A
// pending Update is replaced by a newer Update of the same member, so the
// queue grows only with joins, failures and leaves; if callbacks stall
// long enough to fill it, further events are dropped and logged (the
// member table itself stays exact).
const MaxPendingEvents = 4096

// maxGone bounds how many Dead and Left members the table remembers; the
// one gone longest is forgotten first. NodeIDs are never reused, so
// without a bound the table would grow with every node ever seen.
const maxGone = 1024

type eventKind int

const (
	evJoin eventKind = iota
	evUpdate
	evDead
	evLeave
)

type event struct {
	kind eventKind
	m    Member
}

// table is this node's view of the cluster and the queue of events not
// yet delivered. memberlist's callbacks write it (they hold memberlist's
// node lock, so table methods never call memberlist); the dispatcher
// goroutine drains the queue.
type table struct {
	mu struct {
		sync.Mutex
		members map[raftpb.NodeID]Member
		gone    int // members in State Dead or Left
		// queue[i] is event number popped+i.
		queue  []event
		popped uint64
		// pendingUpdate maps a member to the number of its queued Update,
		// while no later event of that member is queued.
		pendingUpdate map[raftpb.NodeID]uint64
		dropped       uint64
		closed        bool
	}
	cond sync.Cond // signals queue growth and close; uses mu
}

func newTable() *table {
	t := &table{}
	t.mu.members = make(map[raftpb.NodeID]Member)
	t.mu.pendingUpdate = make(map[raftpb.NodeID]uint64)
	t.cond.L = &t.mu.Mutex
	return t
}

// join records m (State Alive) and queues a Join.
func (t *table) join(m Member) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return
	}
	t.setLocked(m)
	t.enqueueLocked(event{kind: evJoin, m: m})
}

// update records a new Meta and address for a member and queues an Update
// if what callers can see changed. A member not in the table is joined.
func (t *table) update(meta Meta, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return
	}
	old, ok := t.mu.members[meta.NodeID]
	if !ok || !old.State.Live() {
		m := Member{Meta: meta, State: Alive, Addr: addr, Since: now}
		t.setLocked(m)
		t.enqueueLocked(event{kind: evJoin, m: m})
		return
	}
	m := old
	m.Meta, m.Addr = meta, addr
	if m == old {
		return
	}
	t.setLocked(m)
	t.enqueueLocked(event{kind: evUpdate, m: m})
}

// gone records that a member failed (left false) or left, and queues the
// matching event if notify.
func (t *table) gone(meta Meta, addr string, left, notify bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return
	}
	m := Member{Meta: meta, State: Dead, Addr: addr, Since: now}
	kind := evDead
	if left {
		m.State, kind = Left, evLeave
	}
	t.setLocked(m)
	if notify {
		t.enqueueLocked(event{kind: kind, m: m})
	}
}

func (t *table) setLocked(m Member) {
	if old, ok := t.mu.members[m.NodeID]; ok && !old.State.Live() {
		t.mu.gone--
	}
	t.mu.members[m.NodeID] = m
	if m.State.Live() {
		return
	}
	t.mu.gone++
	if t.mu.gone <= maxGone {
		return
	}
	var oldest Member
	found := false
	for _, g := range t.mu.members {
		if !g.State.Live() && g.NodeID != m.NodeID && (!found || g.Since.Before(oldest.Since)) {
			oldest, found = g, true
		}
	}
	if found {
		delete(t.mu.members, oldest.NodeID)
		t.mu.gone--
	}
}

func (t *table) enqueueLocked(e event) {
	id := e.m.NodeID
	if e.kind == evUpdate {
		if seq, ok := t.mu.pendingUpdate[id]; ok {
			t.mu.queue[seq-t.mu.popped] = e
			return
		}
	}
	if len(t.mu.queue) >= MaxPendingEvents {
		t.mu.dropped++
		return
	}
	delete(t.mu.pendingUpdate, id)
	if e.kind == evUpdate {
		t.mu.pendingUpdate[id] = t.mu.popped + uint64(len(t.mu.queue))
	}
	t.mu.queue = append(t.mu.queue, e)
	t.cond.Signal()
}

// next waits for an event and removes it from the queue. It returns false
// once the table is closed. dropped is the number of events dropped since
// the last call.
func (t *table) next() (e event, dropped uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.mu.queue) == 0 && !t.mu.closed {
		t.cond.Wait()
	}
	if t.mu.closed {
		return event{}, 0, false
	}
	e = t.mu.queue[0]
	t.mu.queue[0] = event{}
	t.mu.queue = t.mu.queue[1:]
	if seq, ok := t.mu.pendingUpdate[e.m.NodeID]; ok && seq == t.mu.popped {
		delete(t.mu.pendingUpdate, e.m.NodeID)
	}
	t.mu.popped++
	dropped, t.mu.dropped = t.mu.dropped, 0
	return e, dropped, true
}

// close stops recording and wakes the dispatcher; queued events are
// dropped.
func (t *table) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.closed = true
	t.mu.queue = nil
	t.cond.Broadcast()
}

func (t *table) get(id raftpb.NodeID) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.mu.members[id]
	return m, ok
}

func (t *table) list() []Member {
	t.mu.Lock()
	out := make([]Member, 0, len(t.mu.members))
	for _, m := range t.mu.members {
		out = append(out, m)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}
