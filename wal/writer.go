package wal

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

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
	buf     []byte
	taken   []*Batch
	undo    []undo
	// gc is the batch of rewritten records, written ahead of user batches.
	gc Batch
	// collect asks for a segment collection after the next write.
	collect bool
	// removed lists groups removed by the last write, to drop from the
	// map once no validated op can still point at them.
	removed []raftpb.GroupID
}

// writeLoop is the single writer goroutine. Each turn takes every pending
// batch, writes them with one write and one sync, and wakes their
// submitters by closing one channel. There is no delay timer: a lone
// batch is written at once, and batches arriving during a sync simply
// gather for the next turn, which is what makes syncs far fewer than
// batches under load.
func (w *WAL) writeLoop() {
	defer close(w.writerDone)
	for {
		closing := false
		select {
		case <-w.wake:
		case <-w.closing:
			closing = true
		}
		w.mu.Lock()
		batches, sg := w.mu.pending, w.mu.sg
		w.mu.pending = w.wr.taken[:0]
		w.mu.sg = newSyncGroup()
		w.mu.Unlock()
		w.wr.taken = batches
		if len(batches) > 0 {
			sg.err = w.writeGroup(batches)
			if sg.err != nil {
				w.fail(sg.err)
			}
			clear(batches)
		}
		close(sg.done)
		if closing {
			w.failPending(ErrClosed)
			return
		}
	}
}

// fail fail-stops the WAL with err and fails everything still pending.
func (w *WAL) fail(err error) {
	w.mu.Lock()
	first := w.mu.err == nil
	if first {
		w.mu.err = err
	}
	w.mu.Unlock()
	if first {
		w.opts.Logger.Error("wal: fail-stop, refusing further writes", "err", err)
		if f := w.opts.EventListener.Failed; f != nil {
			f(err)
		}
	}
	w.failPending(err)
}

// failPending completes every batch still queued with err.
func (w *WAL) failPending(err error) {
	w.mu.Lock()
	pending, sg := w.mu.pending, w.mu.sg
	w.mu.pending = nil
	w.mu.sg = newSyncGroup()
	w.mu.Unlock()
	if len(pending) > 0 {
		sg.err = err
	}
	close(sg.done)
}

// writeGroup validates batches, writes the valid ones (plus any rewrite
// the segment collector asks for) with one write and one sync, and then
// publishes them to the index. A returned error is an I/O error: the WAL
// must fail-stop.
func (w *WAL) writeGroup(batches []*Batch) error {
	size, entries, n := 0, 0, 0
	for _, b := range batches {
		if err := w.validate(b); err != nil {
			b.result = err
			continue
		}
		size += len(b.buf)
		entries += b.entries
		n++
	}
	if n == 0 {
		return nil
	}
	if err := w.prepareSegment(size); err != nil {
		return err
	}
	buf, base := w.buildWrite(batches)
	start := time.Now()
	if _, err := w.wr.file.WriteAt(buf, w.wr.off); err != nil {
		return classify(fmt.Sprintf("writing %d bytes to %s at %d", len(buf), w.wr.active.name, w.wr.off), err)
	}
	if err := w.wr.file.SyncData(); err != nil {
		return classify("syncing "+w.wr.active.name, err)
	}
	w.observeSync(time.Since(start), len(buf))
	w.publish(batches, buf, base)
	w.m.batches.Add(uint64(n))
	w.m.entries.Add(uint64(entries))
	w.m.bytesIn.Add(uint64(size))
	if w.wr.off > w.opts.SegmentBytes/2 {
		w.prep.request()
	}
	return w.collectSegments()
}

// buildWrite lays out the write: a segment header if the segment is new,
// the collector's rewrites, every valid batch (checksums masked for this
// segment) and the commit record. base[i] is the offset in the segment of
// batches[i] (-1 if it was rejected); the rewrite batch, if any, sits at
// w.wr.off + the header.
func (w *WAL) buildWrite(batches []*Batch) ([]byte, []int64) {
	buf := w.wr.buf[:0]
	mask := segMask(uint64(w.wr.active.num))
	if w.wr.off == 0 {
		buf = appendSegmentHeader(buf, uint64(w.wr.active.num), w.wr.seq+1)
		maskRecord(buf, mask)
	}
	buf = w.appendBatch(buf, &w.wr.gc, mask)
	base := make([]int64, len(batches))
	for i, b := range batches {
		if b.result != nil {
			base[i] = -1
			continue
		}
		base[i] = w.wr.off + int64(len(buf))
		buf = w.appendBatch(buf, b, mask)
	}
	w.wr.seq++
	c := len(buf)
	buf = appendCommit(buf, w.wr.seq)
	maskRecord(buf[c:], mask)
	w.wr.buf = buf
	return buf, base
}

// appendBatch copies b's records into buf, masking their checksums.
func (w *WAL) appendBatch(buf []byte, b *Batch, mask uint32) []byte {
	start := len(buf)
	buf = append(buf, b.buf...)
	for i := range b.ops {
		maskRecord(buf[start+int(b.ops[i].off):], mask)
	}
	return buf
}

// observeSync counts one write+sync and reports it if slow.
func (w *WAL) observeSync(d time.Duration, n int) {
	w.m.fsyncs.Add(1)
	w.m.bytesWritten.Add(uint64(n))
	w.m.syncNanos.Add(uint64(d))
	if d >= w.opts.SlowSyncThreshold {
		w.opts.Logger.Warn("wal: slow sync", "duration", d, "bytes", n)
		if f := w.opts.EventListener.SlowSync; f != nil {
			f(d, n)
		}
	}
}

// publish makes a synced write visible: the index learns where every
// record lives, and the tail cache keeps a copy of the bytes.
func (w *WAL) publish(batches []*Batch, buf []byte, base []int64) {
	seg := w.wr.active
	w.idx.Lock()
	hdr := int64(0)
	if w.wr.off == 0 {
		hdr = segmentSize
	}
	w.applyOps(&w.wr.gc, seg.num, w.wr.off+hdr)
	for i, b := range batches {
		if base[i] >= 0 {
			w.applyOps(b, seg.num, base[i])
		}
	}
	w.idx.cache.add(seg.num, uint32(w.wr.off), buf)
	w.idx.Unlock()
	w.wr.off += int64(len(buf))
	seg.bytes.Store(w.wr.off)
	w.wr.gc.Reset()
}

// applyOps applies a written batch's records, found at segment offset
// base, to the index. The caller holds idx write-locked.
func (w *WAL) applyOps(b *Batch, seg uint32, base int64) {
	for i := range b.ops {
		o := &b.ops[i]
		g := o.g
		if g == nil {
			g = w.groupLocked(o.group)
		}
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
