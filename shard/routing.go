package shard

import (
	"bytes"
	"slices"
	"sort"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// routing maps keys to the local replicas whose shard covers them. Every
// node keeps one; lookups are concurrent with updates.
//
// Invariant: byStart is sorted by descriptor Start, and ranges do not
// overlap.
type routing struct {
	mu      sync.RWMutex
	byStart []*replica
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
}

// remove drops r (its replica left this node).
func (t *routing) remove(r *replica) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.Index(t.byStart, r); i >= 0 {
		t.byStart = slices.Delete(t.byStart, i, i+1)
	}
}

// lookup returns the replica whose shard contains key, or nil.
func (t *routing) lookup(key []byte) *replica {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i := sort.Search(len(t.byStart), func(i int) bool {
		return bytes.Compare(t.byStart[i].descriptor().Start, key) > 0
	})
	if i == 0 {
		return nil
	}
	r := t.byStart[i-1]
	if d := r.descriptor(); !d.Contains(key) {
		return nil
	}
	return r
}

// from returns the replicas whose shards intersect [start, end) in key
// order (end empty: to the end of the key space).
func (t *routing) from(start, end []byte) []*replica {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*replica
	for _, r := range t.byStart {
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
