package shard

import (
	"github.com/flotilladb/flotilla/wal"
)

// A round does not park its worker on the fsync.
//
// A round hands its WAL batch to the WAL and goes on: the rest of the
// round (after-persist messages, the apply of what this round made
// durable, answers, Advance) runs once the batch is durable, on the same
// worker, in the order its rounds were submitted. Meanwhile the worker
// may take the next batch of ready groups. Why: a write crosses at least
// three rounds in series (the leader's append, the followers' append and
// acknowledgement, the leader's commit and apply), and when each round
// parked its worker on the sync, a store with two workers had at most two
// rounds in flight, while a trace showed its workers blocked on fsyncs 58%
// of the time. NB: measured, this made no difference to throughput
// (MaxSyncingRounds 1, the old behaviour, against 4, alternating: equal
// within noise, and 0.76-0.97x once CPU was the limit); the store was held
// back by Ps kept by goroutines in fdatasync (procs.go). So
// Options.MaxSyncingRounds defaults to 1: each worker waits for its
// round's sync, the old shape; docs/benchmarks.md has the figures. (With
// 4, chaos.TestLeasePause once failed; the cause was the test's: a write
// that timed out took effect late, which linearizability allows.)
//
// The groups of a round stay "running" (replica.sched) until the round is
// finished, so a group is never stepped or asked for a Ready while its
// previous Ready is not Advanced (raftgroup's contract), and its next
// round finds everything it wrote durable: a round's durableCommitted
// stays exact. Rounds of one worker finish in submission order, which is
// the WAL's completion order; rounds of different workers hold different
// groups and need no order between them.
//
// Invariant: len(w.syncing) <= Options.MaxSyncingRounds; a worker at the
// bound waits for its oldest round before it takes more groups.
//
// The gate: while a round of its own is syncing, a worker starts another
// only if at least as many groups are queued as its last round took;
// otherwise it waits for the oldest sync, and then takes whatever is
// queued. Why: without it, a worker with a round syncing took every group
// as soon as it was queued, a few at a time, and each round has a fixed
// cost (a WAL batch and its share of an fsync, a state machine batch, a
// transport frame per peer): on a machine short of CPU, rounds of 13-27
// groups instead of 23-77, and more fsyncs. With the gate, rounds overlap
// when work comes faster than the disk syncs, and batch up when it does
// not. (The WAL's writer
// gates its writes the same way: wal/writer.go.) A gated worker listens
// for the sync only, not for new work, so the wake-up a push sends goes to
// an idle worker instead.

// run takes rounds until the store closes, then finishes the rounds it
// still has in flight.
func (w *worker) run() {
	defer w.s.wg.Done()
	defer w.drain()
	for {
		w.finishSynced()
		if n := len(w.syncing); n >= w.s.opts.MaxSyncingRounds || n > 0 && w.s.sched.depth() < w.gate {
			if !w.waitOldest() {
				return
			}
			continue
		}
		rn := w.newRound()
		rn.batch = w.s.sched.take(rn.batch, w.s.opts.MaxRoundGroups)
		if len(rn.batch) == 0 {
			w.free = append(w.free, rn)
			if !w.idle() {
				return
			}
			continue
		}
		w.gate = len(rn.batch)
		w.start(rn)
	}
}

// finishSynced finishes, oldest first, the rounds whose WAL batch is done.
func (w *worker) finishSynced() {
	for len(w.syncing) > 0 && isDone(w.syncing[0].pending) {
		w.finishOldest()
	}
}

// finishOldest finishes the oldest syncing round (its sync must be done).
func (w *worker) finishOldest() {
	rn := w.syncing[0]
	copy(w.syncing, w.syncing[1:])
	w.syncing[len(w.syncing)-1] = nil
	w.syncing = w.syncing[:len(w.syncing)-1]
	w.finish(rn)
}

// waitOldest waits until the oldest syncing round's batch is done or the
// store closes; it reports false on closing.
func (w *worker) waitOldest() bool {
	select {
	case <-w.syncing[0].pending.Done():
		return true
	case <-w.s.closing:
		return false
	}
}

// idle waits for new work, for the oldest syncing round's batch, or for
// the store to close; it reports false on closing.
func (w *worker) idle() bool {
	var synced <-chan struct{}
	if len(w.syncing) > 0 {
		synced = w.syncing[0].pending.Done()
	} else {
		w.trimRounds()
	}
	select {
	case <-w.s.sched.notify:
		return true
	case <-synced:
		return true
	case <-w.s.closing:
		return false
	}
}

// drain finishes the rounds still syncing when the store closes: the WAL
// is closed only after the workers stop, so their batches complete, and
// their clients get their answers rather than ErrClosed.
func (w *worker) drain() {
	for len(w.syncing) > 0 {
		<-w.syncing[0].pending.Done()
		w.finishOldest()
	}
}

// newRound returns a round from the worker's pool, or a new one.
func (w *worker) newRound() *round {
	if n := len(w.free); n > 0 {
		rn := w.free[n-1]
		w.free[n-1] = nil
		w.free = w.free[:n-1]
		return rn
	}
	return &round{}
}

// release ends the round of rn's groups (each goes back into the ready
// queue if input arrived meanwhile) and returns rn to the pool.
func (w *worker) release(rn *round) {
	for _, r := range rn.batch {
		w.s.sched.done(r)
	}
	clear(rn.batch)
	rn.batch = rn.batch[:0]
	for i := range rn.readies {
		rn.readies[i] = readyItem{}
	}
	rn.readies = rn.readies[:0]
	if rn.syncing && !isDone(rn.pending) {
		// Released before its sync completed (the store failed): the WAL
		// still owns the batch, so the pooled round must not reuse it.
		rn.wb = nil
	}
	rn.pending, rn.syncing = wal.Pending{}, false
	w.free = append(w.free, rn)
}

func isDone(p wal.Pending) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// countSmallRound counts a round that took no more groups than the Ready
// buffer trimRounds leaves (a run of them lets trimRounds give the larger
// buffers back). NB: measured against that fixed size, not against the
// round's own buffer: the pooled rounds' buffers differ in size, and a
// small round in a small buffer must count as small too.
func (w *worker) countSmallRound(rn *round) {
	if len(rn.readies) <= minReadiesTrim {
		w.smallRounds++
	} else {
		w.smallRounds = 0
	}
}

// trimRounds, when the worker runs out of work with no round syncing,
// gives back the pool's large Ready buffers and every pooled round but
// one, if the latest rounds were small. Why: a start-up or a burst leaves
// them sized for MaxRoundGroups (about 210 KB per round, several rounds
// per worker), and a store gone idle has no rounds left to shrink them.
// NB: not after every small round: during a start-up round sizes swing,
// and regrowing the buffers each time churned the collector enough to
// slow elections.
func (w *worker) trimRounds() {
	if w.smallRounds < minSmallRounds {
		return
	}
	for _, rn := range w.free {
		if cap(rn.readies) > minReadiesTrim {
			rn.readies = nil
		}
	}
	if len(w.free) > 1 {
		clear(w.free[1:])
		w.free = w.free[:1]
	}
}

const (
	// minReadiesTrim is the Ready buffer capacity trimRounds leaves.
	minReadiesTrim = 64
	// minSmallRounds is how many small rounds in a row let trimRounds
	// drop the buffers.
	minSmallRounds = 32
)
