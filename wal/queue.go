package wal

import "sync/atomic"

// The submission queue.
//
// Submit must not take a lock: at 256 submitters a write's waiters are
// woken together by one channel close and resubmit at once, and with a
// mutex they queued behind each other (the mutex profile put about 11 us
// of waiting on every Submit at 10,000 groups x 256 submitters, and the
// writer queued with them to take the batches). So the queue is a
// lock-free stack per sync group: Submit pushes its batch onto the
// current sync group with one compare-and-swap, and the writer takes the
// whole stack by installing a fresh sync group and sealing the old one's
// stack. A submitter that meets a sealed stack reloads the current group
// and tries again (the writer installs the new group before sealing, so
// the retry finds it). The stack is reversed when taken, so batches are
// written in the order they were pushed: a caller that orders its submits
// (one group's appends under its lock) sees them in that order in the
// log.
//
// Once the WAL is closed or failed, the writer installs a final sync
// group that refuses every push with its error.

// submitQueue holds the current sync group and the seal marker.
type submitQueue struct {
	cur atomic.Pointer[syncGroup]
	// gate is the number of queued batches at which a push wakes the
	// writer while a sync is under way (writer.go); 0 disables it.
	gate atomic.Int32
	// sealed is never submitted: its address marks a stack taken by the
	// writer.
	sealed Batch
}

// push adds b to the current sync group and returns that group, or the
// final group's error. wake reports that the writer must be woken: the
// stack was empty, or it just reached the gate.
func (q *submitQueue) push(b *Batch) (sg *syncGroup, wake bool, err error) {
	for {
		sg = q.cur.Load()
		if sg.final != nil {
			return nil, false, sg.final
		}
		h := sg.head.Load()
		if h == &q.sealed {
			continue
		}
		b.next = h
		if sg.head.CompareAndSwap(h, b) {
			n := sg.count.Add(1)
			return sg, h == nil || n == q.gate.Load(), nil
		}
	}
}

// take installs next as the current sync group and returns the previous
// one with its batches in push order. If the current group is final it
// changes nothing and returns nil.
func (q *submitQueue) take(next *syncGroup) (*syncGroup, []*Batch) {
	var old *syncGroup
	for {
		old = q.cur.Load()
		if old.final != nil {
			return nil, nil
		}
		if q.cur.CompareAndSwap(old, next) {
			break
		}
	}
	h := old.head.Swap(&q.sealed)
	n := 0
	for b := h; b != nil; b = b.next {
		n++
	}
	if n == 0 {
		return old, nil
	}
	batches := make([]*Batch, n)
	for b := h; b != nil; {
		next := b.next
		b.next = nil
		n--
		batches[n] = b
		b = next
	}
	return old, batches
}

// queued returns how many batches wait in the current sync group.
func (q *submitQueue) queued() int32 { return q.cur.Load().count.Load() }

// empty reports whether nothing waits in the current sync group.
func (q *submitQueue) empty() bool {
	h := q.cur.Load().head.Load()
	return h == nil || h == &q.sealed
}
