package shard

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// routing maps keys to the local replicas whose shard covers them. Every
// node keeps one; lookups are concurrent with updates.
//
// Lookups read an immutable table through an atomic pointer; updates
// (rare: a shard created, split, moved here or away) change byStart under
// mu and drop the table, which the next lookup builds again. Why: every
// request looks its key up, and a read lock's shared counter and a binary
// search through each replica's published descriptor (three dependent
// loads per step, cold with a thousand shards) were 2% of a loaded
// store's CPU; the table keeps the start keys in one array. NB: the table
// is built on demand, not by update: a store opening 10,000 shards calls
// update 10,000 times, and copying the table each time was quadratic.
type routing struct {
	mu sync.Mutex
	// byStart is the routed replicas. Invariant: sorted by descriptor
	// Start; ranges do not overlap.
	byStart []*replica
	// tab is byStart's immutable copy for lookups; nil when byStart
	// changed since it was built.
	tab atomic.Pointer[routeTable]
}

// routeTable is one immutable version of the routing table. Invariant:
// starts[i] is byStart[i]'s Start when the table was built.
type routeTable struct {
	byStart []*replica
	starts  [][]byte
}

// update inserts r or re-sorts after its descriptor changed. The meta
// shard (not in the user key space) and uninitialized replicas (no range
// yet) are never routed to.
func (t *routing) update(r *replica) {
	if d := r.descriptor(); r.id == MetaShardID || !d.Initialized() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.byStart, r) {
		t.byStart = append(t.byStart, r)
	}
	slices.SortFunc(t.byStart, func(a, b *replica) int {
		return bytes.Compare(a.descriptor().Start, b.descriptor().Start)
	})
	t.tab.Store(nil)
}

// remove drops r (its replica left this node).
func (t *routing) remove(r *replica) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.Index(t.byStart, r); i >= 0 {
		t.byStart = slices.Delete(t.byStart, i, i+1)
		t.tab.Store(nil)
	}
}

// load returns the current table, building it if an update dropped it.
func (t *routing) load() *routeTable {
	if tab := t.tab.Load(); tab != nil {
		return tab
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tab := t.tab.Load(); tab != nil {
		return tab
	}
	tab := &routeTable{byStart: slices.Clone(t.byStart), starts: make([][]byte, len(t.byStart))}
	for i, r := range tab.byStart {
		tab.starts[i] = r.descriptor().Start
	}
	t.tab.Store(tab)
	return tab
}

// lookup returns the replica whose shard contains key, or nil.
func (t *routing) lookup(key []byte) *replica {
	tab := t.load()
	i := sort.Search(len(tab.starts), func(i int) bool {
		return bytes.Compare(tab.starts[i], key) > 0
	})
	if i == 0 {
		return nil
	}
	r := tab.byStart[i-1]
	if d := r.descriptor(); !d.Contains(key) {
		return nil
	}
	return r
}

// from returns the replicas whose shards intersect [start, end) in key
// order (end empty: to the end of the key space).
func (t *routing) from(start, end []byte) []*replica {
	var out []*replica
	for _, r := range t.load().byStart {
		d := r.descriptor()
		if len(d.End) != 0 && bytes.Compare(d.End, start) <= 0 {
			continue
		}
		if len(end) != 0 && bytes.Compare(d.Start, end) >= 0 {
			break
		}
		out = append(out, r)
	}
	return out
}

func sortNodes(ids []raftpb.NodeID) { slices.Sort(ids) }

func raftNode(v uint64) raftpb.NodeID { return raftpb.NodeID(v) }
