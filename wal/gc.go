package wal

import (
	"fmt"
	"math"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Segment collection.
//
// Segments are deleted oldest first, never out of order: a record in a
// later segment (a compaction point, a removal) may be what makes an
// older record obsolete, so deleting a later segment while an older one
// stays could resurrect state at recovery. A segment can go once every
// live group's base segment (where its history since creation or last
// rewrite starts) is newer: recovery then replays, for every live group,
// its whole history from the base on, and for removed groups a history
// that ends in their removal.
//
// A group that never compacts (or is idle for long) keeps its base old
// and so pins every segment after it. When the segments on disk exceed
// twice the live data plus one segment, the collector rewrites the pinning
// groups into the new segment as one atomic sequence (remove, compaction
// point, the live entries records copied byte for byte, hard state); each
// rewritten group's base becomes the new segment and the old segments can
// go. A rewrite copies at most the live data, and happens only when at
// least as much garbage has accumulated, so the disk stays within about
// twice the live data plus one segment and the extra writing is bounded
// by the amount written by users.
//
// Rejected: per-record reference counts per segment (costly on the hot
// path, and still needs the ordering rule); deleting segments out of
// order with tombstones (recovery would need two passes).

// planRewrite runs right after a rotation. When the segments exceed the
// disk budget it queues the groups whose base lies in the segments that
// must go; the writer rewrites them a chunk at a time (see rewriteChunk).
func (w *WAL) planRewrite() error {
	if len(w.wr.rewrite) > 0 {
		return nil
	}
	budget := 2*w.idx.liveBytes + w.opts.SegmentBytes
	var total int64
	for _, num := range w.wr.segNums {
		total += w.segDiskBytes(num)
	}
	if total <= budget {
		return nil
	}
	cutoff := uint32(math.MaxUint32)
	for _, num := range w.wr.segNums {
		if total <= budget {
			cutoff = num
			break
		}
		total -= w.segDiskBytes(num)
	}
	for id, g := range w.idx.groups {
		if g.exists && g.baseSeg < cutoff && g.baseSeg != w.wr.active.num {
			w.wr.rewrite = append(w.wr.rewrite, id)
		}
	}
	w.wr.rewriteBelow = cutoff
	return nil
}

// rewriteChunk moves up to a chunk of queued groups into w.wr.gc, to be
// written ahead of the next write's batches. A rewrite must describe the
// group as of its place in the log, so it waits for the pipeline to be idle
// (the durable index then equals everything written); pipelining pauses
// while a rewrite is under way. Chunks bound the stall each write causes.
func (w *WAL) rewriteChunk() error {
	if len(w.wr.rewrite) == 0 {
		return nil
	}
	w.waitIdle()
	limit := max(w.opts.SegmentBytes/8, 64<<10)
	for len(w.wr.rewrite) > 0 && (w.wr.gc == nil || int64(len(w.wr.gc.buf)) < limit) {
		id := w.wr.rewrite[0]
		w.wr.rewrite = w.wr.rewrite[1:]
		g := w.idx.groups[id]
		if g == nil || !g.exists || g.baseSeg >= w.wr.rewriteBelow || g.baseSeg == w.wr.active.num {
			continue
		}
		if err := w.rewriteGroup(g); err != nil {
			return err
		}
	}
	return nil
}

// segDiskBytes is the space segment num takes on disk.
func (w *WAL) segDiskBytes(num uint32) int64 {
	s := w.idx.segs[num]
	if s == nil {
		return 0
	}
	n := s.bytes.Load()
	if !w.opts.NoPreallocate {
		n = max(n, w.opts.SegmentBytes)
	}
	return n
}

// rewriteGroup appends to w.wr.gc the records that rebuild g from
// nothing. Entries records are copied as they are on disk (checksum
// unmasked); a copied record may hold entries below the compaction point
// or beyond its span, which replay skips or the next copied record
// replaces, exactly as when they were first written.
func (w *WAL) rewriteGroup(g *group) error {
	if w.wr.gc == nil {
		w.wr.gc = &Batch{threshold: -1}
	}
	b := w.wr.gc
	start := len(b.ops)
	defer func() {
		for i := start; i < len(b.ops); i++ {
			b.ops[i].g = g
		}
	}()
	b.Remove(g.id)
	if g.compact > 0 || g.compactTerm > 0 {
		b.Compact(g.id, g.compact, g.compactTerm)
	}
	for _, s := range g.spans {
		if err := w.copySpan(b, g, s); err != nil {
			return err
		}
	}
	if !g.hs.IsEmpty() {
		b.SetHardState(g.id, g.hs)
	}
	w.m.rewrittenGroups.Add(1)
	return nil
}

// copySpan appends the record behind s to b, with the term runs of the
// span's entries above the compaction point.
func (w *WAL) copySpan(b *Batch, g *group, s span) error {
	start := len(b.buf)
	buf, err := w.readRecord(b.buf, s.seg, s.off, s.size)
	if err != nil {
		return classify(fmt.Sprintf("reading segment %d at %d for rewrite", s.seg, s.off), err)
	}
	b.buf = buf
	maskRecord(b.buf[start:], segMask(uint64(s.seg)))
	w.m.rewrittenBytes.Add(uint64(s.size))
	t0 := len(b.terms)
	from := max(s.first, g.compact+1)
	for i := from; i <= s.last(); {
		t := g.term(i)
		b.terms = append(b.terms, termRun{first: i, term: t})
		i = g.nextTermChange(i, s.last())
	}
	b.ops = append(b.ops, op{kind: recEntries, group: g.id, off: uint32(start), size: s.size,
		first: s.first, count: s.count, t0: uint32(t0), t1: uint32(len(b.terms))})
	return nil
}

// nextTermChange returns the first index after i whose term run differs
// from i's, or end+1.
func (g *group) nextTermChange(i, end raftpb.Index) raftpb.Index {
	for _, r := range g.terms {
		if r.first > i {
			return min(r.first, end+1)
		}
	}
	return end + 1
}

// collectSegments deletes the segments no live group needs any more, and
// forgets removed groups. It runs in the writer once the first write of a
// new segment (which carries the rewrites) is durable, with the pipeline
// idle.
func (w *WAL) collectSegments() error {
	if len(w.wr.removed) > 0 {
		w.idx.Lock()
		for _, id := range w.wr.removed {
			if g := w.idx.groups[id]; g != nil && !g.exists && !g.sExists {
				delete(w.idx.groups, id)
			}
		}
		w.idx.Unlock()
		w.wr.removed = w.wr.removed[:0]
	}
	minBase := w.wr.active.num
	for _, g := range w.idx.groups {
		if g.exists {
			minBase = min(minBase, g.baseSeg)
		}
	}
	n := 0
	for n < len(w.wr.segNums) && w.wr.segNums[n] < minBase {
		n++
	}
	if n == 0 {
		return nil
	}
	if err := w.writeFloor(w.wr.segNums[n]); err != nil {
		return err
	}
	return w.deleteSegments(n)
}

// writeFloor makes durable, before the collector deletes anything, that
// the log now starts at segment floor. Why: without it, a directory that
// lost its oldest segments (deleted by hand, restored from a partial
// copy) looked like one the collector had trimmed, and Open silently
// dropped the live entries they held; with it, recovery knows where the
// log must start and reports the missing segment (recovery.go). One small
// write and sync per collection, which runs at most once per segment.
func (w *WAL) writeFloor(floor uint32) error {
	mask := segMask(uint64(w.wr.active.num))
	buf := appendFloor(nil, floor)
	maskRecord(buf, mask)
	c := len(buf)
	buf = appendCommit(buf, w.wr.seq+1)
	maskRecord(buf[c:], mask)
	if _, err := w.wr.file.WriteAt(buf, w.wr.off); err != nil {
		return classify(fmt.Sprintf("writing the log floor to %s at %d", w.wr.active.name, w.wr.off), err)
	}
	start := time.Now()
	if err := w.wr.file.SyncData(); err != nil {
		return classify("syncing "+w.wr.active.name, err)
	}
	w.observeSync(time.Since(start))
	w.wr.seq++
	w.wr.off += int64(len(buf))
	w.wr.active.bytes.Store(w.wr.off)
	w.m.bytesWritten.Add(uint64(len(buf)))
	return nil
}

// deleteSegments removes the n oldest segments, oldest first, and syncs
// the directory so a crash cannot bring back an older one without the
// newer ones.
func (w *WAL) deleteSegments(n int) error {
	for _, num := range w.wr.segNums[:n] {
		w.idx.Lock()
		s := w.idx.segs[num]
		delete(w.idx.segs, num)
		w.idx.Unlock()
		if err := w.fs.Remove(w.path(segName(num))); err != nil {
			return classify("removing "+segName(num), err)
		}
		if s != nil {
			s.release()
		}
		w.m.segmentsDeleted.Add(1)
		if f := w.opts.EventListener.SegmentDeleted; f != nil {
			f(uint64(num))
		}
	}
	w.wr.segNums = append(w.wr.segNums[:0], w.wr.segNums[n:]...)
	return w.syncDir()
}
