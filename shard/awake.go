package shard

import "sync"

// awakeSet holds the replicas the ticker must tick: every replica whose
// awake flag is set, and possibly some that have just gone quiet.
//
// Why: the ticker used to walk every replica of the node each tick and
// test its flag. With 30,000 quiesced replicas in one process that walk
// (a map iteration and a cache miss per replica, ten times a second) was
// most of the idle CPU. The set costs nothing while everything is quiet.
//
// Invariant: r.awake is true implies r is in the set, once setAwake has
// returned. Only setAwake raises the flag (and then adds r); only
// awakeList removes r, under mu, after seeing the flag down. A raise
// racing a removal either is seen by the check or adds r back after it.
type awakeSet struct {
	mu sync.Mutex
	m  map[*replica]struct{}
}

// setAwake sets r's awake flag, adding r to its store's set when the flag
// goes up.
func (r *replica) setAwake(v bool) {
	if r.awake.Swap(v) || !v {
		return
	}
	a := &r.store.awake
	a.mu.Lock()
	if a.m == nil {
		a.m = make(map[*replica]struct{})
	}
	a.m[r] = struct{}{}
	a.mu.Unlock()
}

// awakeList appends the awake replicas to dst, dropping from the set those
// that have gone quiet.
func (a *awakeSet) awakeList(dst []*replica) []*replica {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.m {
		if !r.awake.Load() {
			delete(a.m, r)
			continue
		}
		dst = append(dst, r)
	}
	if len(a.m) == 0 {
		// NB: dropped, not kept empty: an emptied map keeps its buckets,
		// and at start-up every replica of the node was in it.
		a.m = nil
	}
	return dst
}
