package wal

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// The write pipeline has three goroutines.
//
// The writer takes the queued batches (queue.go), validates them, lays
// the valid ones out in one buffer and writes it with one WriteAt; it then
// hands the write (a flight) to the syncer. The syncer takes every flight
// written so far and makes them durable with one fdatasync, hands them to
// the completer and goes straight back to the disk. The completer
// publishes each synced flight to the index and wakes its submitters by
// closing one channel per flight, in order.
//
// So while the disk syncs write N, the writer can write N+1, and the
// submitters woken by N-1 run on the CPU during that sync instead of in
// front of it. When to write N+1 is the gate: while a sync is under way
// the writer waits until as many batches are queued as the last write
// carried (the push that reaches that count wakes it), or until the sync
// ends, whichever comes first. Without it the writer took the queue as
// soon as anything was in it, a few batches at a time, and at 10,000
// groups x 256 submitters the submitters spread over three syncs (about
// 92 entries per fsync, against pebble's 124); writing only after each
// sync returned got 124 per fsync but lost the overlap, and at 16
// submitters (8 per fsync) a third of the throughput. The gate keeps both
// (measured alternately, 2026-12-06, docs/benchmarks.md). It is a count,
// not a timer: a lone caller finds no sync under way and is written and
// synced at once; when nothing is in flight and no batch waits behind the
// write, the writer syncs and completes it itself, with no hand-off. A
// single goroutine doing write, sync, publish and wake in turn spent
// about a third of each cycle off the disk at 256 submitters on 2 cores.
//
// At most maxFlights writes are outstanding (the buffer pool bounds it);
// with 4 the writer ran out of buffers during a sync at 16 submitters and
// split their batches over more syncs (5.6 entries per sync, 7.3 with 32).
// Rotation and segment collection wait until the pipeline is idle, so the
// syncer never spans two segments and the collector reads a settled index.
const maxFlights = 32

// maxPooledBuf bounds the capacity of a write buffer kept for reuse.
const maxPooledBuf = 4 << 20

// writerState belongs to the writer goroutine alone (and to Open and
// Close, which run before it starts and after it stops).
type writerState struct {
	// active is the segment being written; file is its write handle and
	// off the offset of the next write.
	active *segment
	file   vfs.File
	off    int64
	// seq is the sequence number of the last write (commit record).
	seq uint64
	// nextSeg is the number the next segment will take.
	nextSeg uint32
	// segNums lists the live segment files in order.
	segNums []uint32
	undo    []undo
	// gc is the batch of rewritten records for the next write, if any.
	gc *Batch
	// rewrite queues groups to rewrite, whose base is below rewriteBelow.
	rewrite      []raftpb.GroupID
	rewriteBelow uint32
	// removed lists groups removed by published writes (appended by the
	// completer; read by the writer only after waitIdle).
	removed []raftpb.GroupID
	// inline holds the flight the writer syncs itself.
	inline [1]*flight
}

// flight is one written, not yet synced write.
type flight struct {
	sg      *syncGroup
	batches []*Batch
	base    []int64
	gc      *Batch
	gcBase  int64
	buf     []byte
	seg     *segment
	file    vfs.File
	off     int64
	entries int
	n       int
	size    int
	// rotated marks the first write of a segment: the collector may run
	// once it is durable.
	rotated bool
	// barrier, if set, is closed once every earlier flight is done.
	barrier chan struct{}
}

// syncedGroup is flights made durable (or failed) by one sync, on their
// way from the syncer to the completer.
type syncedGroup struct {
	flights []*flight
	err     error
}

// pipeline holds the channels between writer, syncer and completer.
type pipeline struct {
	flights chan *flight
	synced  chan syncedGroup
	bufs    chan []byte
	// pipelineDone is closed when the completer, the last stage, stops.
	pipelineDone chan struct{}
	collectWant  atomic.Bool
	// outstanding counts flights handed to the syncer and not completed;
	// while it is 0 the writer may sync a flight itself, in order.
	outstanding atomic.Int64
	// unsynced counts flights handed to the syncer and not yet synced.
	unsynced atomic.Int64
}

func (p *pipeline) init() {
	p.flights = make(chan *flight, maxFlights)
	p.synced = make(chan syncedGroup, maxFlights)
	p.bufs = make(chan []byte, maxFlights)
	for range maxFlights {
		p.bufs <- nil
	}
	p.pipelineDone = make(chan struct{})
}

// writeLoop is the writer goroutine.
func (w *WAL) writeLoop() {
	defer close(w.writerDone)
	defer func() {
		close(w.pipe.flights)
		<-w.pipe.pipelineDone
	}()
	for {
		closing := false
		select {
		case <-w.wake:
		case <-w.closing:
			closing = true
		}
		if w.pipe.collectWant.Swap(false) {
			w.waitIdle()
			if err := w.collectSegments(); err != nil {
				w.fail(err)
			}
		}
		if !closing && w.pipe.unsynced.Load() > 0 && w.q.queued() < w.q.gate.Load() {
			continue // woken again at the gate or when the sync ends
		}
		sg, batches := w.q.take(newSyncGroup())
		switch {
		case len(batches) > 0:
			w.launch(batches, sg, w.Err())
		case sg != nil:
			close(sg.done)
		}
		if closing {
			w.waitIdle()
			w.failQueued(&syncGroup{final: ErrClosed}, ErrClosed)
			return
		}
	}
}

// launch writes batches as one flight and hands it to the syncer, or
// completes sg at once if nothing is to be synced.
func (w *WAL) launch(batches []*Batch, sg *syncGroup, failed error) {
	if failed != nil {
		sg.err = failed
		close(sg.done)
		return
	}
	f, err := w.write(batches, sg)
	switch {
	case err != nil:
		w.fail(err)
		sg.err = err
		close(sg.done)
	case f == nil:
		close(sg.done)
	case w.pipe.outstanding.Load() == 0 && w.q.empty():
		// Nothing in flight and nobody waiting behind this write: sync
		// it here and save the hand-off to the syncer (a lone caller then
		// costs one write, one fdatasync and one wake-up).
		w.wr.inline[0] = f
		w.syncFlights(w.wr.inline[:], false)
		w.wr.inline[0] = nil
	default:
		w.q.gate.Store(int32(len(batches)))
		w.pipe.outstanding.Add(1)
		w.pipe.unsynced.Add(1)
		w.pipe.flights <- f
	}
}

// waitIdle returns once the completer has finished every flight handed to
// it so far.
func (w *WAL) waitIdle() {
	f := &flight{barrier: make(chan struct{})}
	w.pipe.flights <- f
	<-f.barrier
}

// fail fail-stops the WAL with err and fails everything still pending.
func (w *WAL) fail(err error) {
	if w.failure.CompareAndSwap(nil, &err) {
		w.opts.Logger.Error("wal: fail-stop, refusing further writes", "err", err)
		if f := w.opts.EventListener.Failed; f != nil {
			f(err)
		}
	}
	w.failPending(err)
}

// failPending completes every batch still queued with err. Batches pushed
// after it are failed by the writer when it takes them (Err is set).
func (w *WAL) failPending(err error) {
	w.failQueued(newSyncGroup(), err)
}

// failQueued installs next as the current sync group and completes the
// batches queued before it with err.
func (w *WAL) failQueued(next *syncGroup, err error) {
	sg, batches := w.q.take(next)
	if sg == nil {
		return
	}
	if len(batches) > 0 {
		sg.err = err
	}
	close(sg.done)
}

// write validates batches and writes the valid ones (after any rewrite
// the collector asked for) with one WriteAt. It returns nil, nil if every
// batch was invalid. An error is an I/O error: the WAL must fail-stop.
func (w *WAL) write(batches []*Batch, sg *syncGroup) (*flight, error) {
	f := &flight{sg: sg, batches: batches}
	for _, b := range batches {
		if err := w.validate(b); err != nil {
			b.result = err
			continue
		}
		f.size += len(b.buf)
		f.entries += b.entries
		f.n++
	}
	if f.n == 0 {
		return nil, nil
	}
	rotated, err := w.prepareSegment(f.size)
	if err != nil {
		return nil, err
	}
	f.rotated = rotated
	if err := w.rewriteChunk(); err != nil {
		return nil, err
	}
	f.buf = <-w.pipe.bufs
	w.layout(f)
	if _, err := w.wr.file.WriteAt(f.buf, w.wr.off); err != nil {
		return nil, classify(fmt.Sprintf("writing %d bytes to %s at %d", len(f.buf), w.wr.active.name, w.wr.off), err)
	}
	f.seg, f.file, f.off = w.wr.active, w.wr.file, w.wr.off
	w.wr.off += int64(len(f.buf))
	f.seg.bytes.Store(w.wr.off)
	w.m.bytesWritten.Add(uint64(len(f.buf)))
	if w.wr.off > w.opts.SegmentBytes/2 {
		w.prep.request()
	}
	return f, nil
}

// layout fills f.buf: a segment header if the segment is new, the
// collector's rewrites, every valid batch (checksums masked for this
// segment) and the commit record; f.base[i] is where batches[i] starts in
// the segment (-1 if rejected).
func (w *WAL) layout(f *flight) {
	buf := f.buf[:0]
	mask := segMask(uint64(w.wr.active.num))
	if w.wr.off == 0 {
		buf = appendSegmentHeader(buf, uint64(w.wr.active.num), w.wr.seq+1)
		maskRecord(buf, mask)
	}
	if w.wr.gc != nil {
		f.gc, f.gcBase = w.wr.gc, w.wr.off+int64(len(buf))
		buf = appendBatch(buf, w.wr.gc, mask)
		w.wr.gc = nil
	}
	f.base = make([]int64, len(f.batches))
	for i, b := range f.batches {
		if b.result != nil {
			f.base[i] = -1
			continue
		}
		f.base[i] = w.wr.off + int64(len(buf))
		buf = appendBatch(buf, b, mask)
	}
	w.wr.seq++
	c := len(buf)
	buf = appendCommit(buf, w.wr.seq)
	maskRecord(buf[c:], mask)
	f.buf = buf
}

// appendBatch copies b's records into buf, masking their checksums.
func appendBatch(buf []byte, b *Batch, mask uint32) []byte {
	start := len(buf)
	buf = append(buf, b.buf...)
	for i := range b.ops {
		maskRecord(buf[start+int(b.ops[i].off):], mask)
	}
	return buf
}

// syncLoop is the syncer goroutine: one fdatasync for every flight
// written so far, then it hands them to the completer and goes straight
// back for the next sync, so the disk is not idle while a write's
// records are published and its submitters woken.
func (w *WAL) syncLoop() {
	defer close(w.pipe.synced)
	for f := range w.pipe.flights {
		group := append(make([]*flight, 0, 4), f)
	more:
		for len(group) < maxFlights+1 {
			select {
			case g, ok := <-w.pipe.flights:
				if !ok {
					break more
				}
				group = append(group, g)
			default:
				break more
			}
		}
		err := w.syncGroup(group)
		synced := false
		for _, f := range group {
			if f.barrier == nil {
				w.pipe.unsynced.Add(-1)
				synced = true
			}
		}
		w.pipe.synced <- syncedGroup{flights: group, err: err}
		if synced && !w.q.empty() {
			// The writer may be waiting at the gate. (With nothing
			// queued it needs no wake: the next push finds an empty
			// stack and wakes it.)
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// completeLoop is the completer goroutine: it publishes synced flights
// and wakes their submitters, in the order they were synced.
func (w *WAL) completeLoop() {
	defer close(w.pipe.pipelineDone)
	for g := range w.pipe.synced {
		w.complete(g.flights, g.err, true)
	}
}

// syncGroup makes group durable with one sync (never retried) unless it
// holds only barriers, and returns the outcome; a failure fail-stops the
// WAL, so every later group fails too.
func (w *WAL) syncGroup(group []*flight) error {
	var last *flight
	for _, f := range group {
		if f.barrier == nil {
			last = f
		}
	}
	if last == nil {
		return nil
	}
	if err := w.Err(); err != nil {
		return err
	}
	start := time.Now()
	if serr := last.file.SyncData(); serr != nil {
		err := classify("syncing "+last.seg.name, serr)
		w.fail(err)
		return err
	}
	w.observeSync(time.Since(start))
	return nil
}

// syncFlights syncs group and completes it in the calling goroutine (the
// writer's inline path).
func (w *WAL) syncFlights(group []*flight, handed bool) {
	w.complete(group, w.syncGroup(group), handed)
}

// complete finishes every flight of a synced group with err: publishes it
// (if err is nil), wakes its submitters and returns its buffer; barriers
// are released in order. handed says the flights came through the
// syncer's channel (and count in outstanding).
func (w *WAL) complete(group []*flight, err error, handed bool) {
	for _, f := range group {
		if f.barrier != nil {
			close(f.barrier)
			continue
		}
		if err == nil {
			w.publish(f)
		}
		f.sg.err = err
		buf := f.buf
		close(f.sg.done)
		if cap(buf) > maxPooledBuf {
			buf = nil // do not keep a rewrite-sized buffer per flight slot
		}
		w.pipe.bufs <- buf
		if handed {
			w.pipe.outstanding.Add(-1)
		}
	}
}

// observeSync counts one fdatasync and reports it if slow.
func (w *WAL) observeSync(d time.Duration) {
	w.m.fsyncs.Add(1)
	w.m.syncNanos.Add(uint64(d))
	if d >= w.opts.SlowSyncThreshold {
		w.opts.Logger.Warn("wal: slow sync", "duration", d)
		if f := w.opts.EventListener.SlowSync; f != nil {
			f(d)
		}
	}
}

// publish makes a synced flight visible: the index learns where every
// record lives, and the tail cache keeps a copy of the bytes.
func (w *WAL) publish(f *flight) {
	w.idx.Lock()
	if f.gc != nil {
		w.applyOps(f.gc, f.seg.num, f.gcBase)
	}
	for i, b := range f.batches {
		if f.base[i] >= 0 {
			w.applyOps(b, f.seg.num, f.base[i])
		}
	}
	w.idx.cache.add(f.seg.num, uint32(f.off), f.buf)
	w.idx.Unlock()
	w.m.batches.Add(uint64(f.n))
	w.m.entries.Add(uint64(f.entries))
	w.m.bytesIn.Add(uint64(f.size))
	if f.rotated || f.gc != nil {
		w.pipe.collectWant.Store(true)
	}
}

// applyOps applies a written batch's records, found at segment offset
// base, to the index. The caller holds idx write-locked. Every op's group
// pointer was filled in by the writer (validate or planRewrite).
func (w *WAL) applyOps(b *Batch, seg uint32, base int64) {
	for i := range b.ops {
		o := &b.ops[i]
		g := o.g
		l := loc{seg: seg, off: uint32(base) + o.off}
		switch o.kind {
		case recEntries:
			w.idx.liveBytes += g.applyAppend(l, o.size, o.first, o.count, b.terms[o.t0:o.t1])
		case recHardState:
			g.touch(seg)
			g.hs = o.hs
		case recCompact:
			w.idx.liveBytes += g.applyCompact(seg, o.first, o.term)
		case recRemove:
			w.idx.liveBytes += g.applyRemove()
			w.wr.removed = append(w.wr.removed, g.id)
		}
	}
}

// groupLocked returns the index's group id, creating it. The caller holds
// idx write-locked.
func (w *WAL) groupLocked(id raftpb.GroupID) *group {
	g := w.idx.groups[id]
	if g == nil {
		g = &group{id: id}
		w.idx.groups[id] = g
	}
	return g
}
