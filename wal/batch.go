package wal

import (
	"encoding/binary"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

// Batch collects records for any number of groups, to be made durable
// together by [WAL.Commit] or [WAL.Submit]. Records are encoded (and large
// payloads compressed) as they are added, in the caller's goroutine, so the
// single writer goroutine only copies bytes; a reused Batch (see Reset)
// allocates nothing per entry once its buffers have grown.
//
// A Batch is atomic: after a crash either all of its records are
// recovered or none. Records apply in the order they were added.
//
// A Batch is not safe for concurrent use, and must not be touched between
// Submit and the moment its Pending is done.
type Batch struct {
	buf     []byte
	ops     []op
	terms   []termRun
	scratch []byte
	// threshold is the compression threshold, from the WAL's Options.
	threshold int
	entries   int
	err       error
	// result is set by the writer before the batch's sync group is done.
	result error
	// next links the batch into its sync group's stack (queue.go).
	next *Batch
}

// op describes one record of a Batch: enough to validate it before it is
// written and to update the index once it is durable.
type op struct {
	kind  uint8
	group raftpb.GroupID
	// off and size locate the record in Batch.buf.
	off, size uint32
	// first and count: entries. index and term: compaction point.
	first raftpb.Index
	count uint32
	term  raftpb.Term
	hs    raftpb.HardState
	// terms[t0:t1] are the entries' term runs (in Batch.terms).
	t0, t1 uint32
	// g is the index's group, filled in by the writer's validation.
	g *group
}

// NewBatch returns an empty Batch configured for w.
func (w *WAL) NewBatch() *Batch {
	return &Batch{threshold: w.opts.CompressThreshold}
}

// Reset empties b for reuse, keeping its buffers.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	clear(b.ops)
	b.ops = b.ops[:0]
	b.terms = b.terms[:0]
	b.entries = 0
	b.err = nil
	b.result = nil
}

// Empty reports whether b holds no records.
func (b *Batch) Empty() bool { return len(b.ops) == 0 && b.err == nil }

// Len returns the encoded size of b in bytes.
func (b *Batch) Len() int { return len(b.buf) }

// Append adds entries of group g. The entries must have consecutive
// indexes. An append whose first index is at or below the group's last
// index replaces the group's entries from that index on (suffix
// truncation); the first index must be above the compaction point and at
// most one past the last index, or Commit fails with ErrInvalidBatch.
func (b *Batch) Append(g raftpb.GroupID, ents []raftpb.Entry) {
	if len(ents) == 0 || b.err != nil {
		return
	}
	first := ents[0].Index
	if first == 0 || len(ents) > maxEntriesPerRecord {
		b.err = fmt.Errorf("%w: group %d: bad first index %d or count %d", ErrInvalidBatch, g, first, len(ents))
		return
	}
	t0 := len(b.terms)
	buf, start := beginRecord(b.buf, recEntries)
	buf = binary.AppendUvarint(buf, uint64(g))
	buf = binary.AppendUvarint(buf, uint64(first))
	buf = binary.AppendUvarint(buf, uint64(len(ents)))
	for i := range ents {
		e := &ents[i]
		if e.Index != first+raftpb.Index(i) {
			b.err = fmt.Errorf("%w: group %d: index %d follows %d", ErrInvalidBatch, g, e.Index, first+raftpb.Index(i)-1)
			b.terms = b.terms[:t0]
			return
		}
		buf = binary.AppendUvarint(buf, uint64(e.Term))
		buf = append(buf, byte(e.Type))
		buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
		buf = append(buf, e.Data...)
		if len(b.terms) == t0 || b.terms[len(b.terms)-1].term != e.Term {
			b.terms = append(b.terms, termRun{first: e.Index, term: e.Term})
		}
	}
	buf = b.maybeCompress(buf, start)
	finishRecord(buf, start)
	b.buf = buf
	b.entries += len(ents)
	b.ops = append(b.ops, op{kind: recEntries, group: g, off: uint32(start), size: uint32(len(buf) - start),
		first: first, count: uint32(len(ents)), t0: uint32(t0), t1: uint32(len(b.terms))})
}

// maybeCompress replaces the payload of the record at start with its s2
// encoding when it is above the threshold and the encoding is smaller.
func (b *Batch) maybeCompress(buf []byte, start int) []byte {
	payload := buf[start+headerSize:]
	if b.threshold < 0 || len(payload) <= b.threshold {
		return buf
	}
	if n := s2.MaxEncodedLen(len(payload)); cap(b.scratch) < n {
		b.scratch = make([]byte, n)
	}
	enc := s2.Encode(b.scratch[:cap(b.scratch)], payload)
	if len(enc) >= len(payload) || len(enc)*maxCompressionRatio < len(payload) {
		return buf
	}
	buf[start+8] |= flagCompressed
	return append(buf[:start+headerSize], enc...)
}

// SetHardState records group g's hard state.
func (b *Batch) SetHardState(g raftpb.GroupID, hs raftpb.HardState) {
	if b.err != nil {
		return
	}
	buf, start := beginRecord(b.buf, recHardState)
	buf = binary.AppendUvarint(buf, uint64(g))
	buf = binary.AppendUvarint(buf, uint64(hs.Term))
	buf = binary.AppendUvarint(buf, uint64(hs.Vote))
	buf = binary.AppendUvarint(buf, uint64(hs.Commit))
	finishRecord(buf, start)
	b.buf = buf
	b.ops = append(b.ops, op{kind: recHardState, group: g, off: uint32(start), size: uint32(len(buf) - start), hs: hs})
}

// Compact moves group g's compaction point to index, whose term is term:
// entries at or below index are dropped, FirstIndex becomes index+1, and
// Term(index) answers term. An index beyond the last index empties the
// log, which then continues at index+1 (installing a snapshot). Moving the
// compaction point backwards fails with ErrInvalidBatch; repeating it is a
// no-op.
func (b *Batch) Compact(g raftpb.GroupID, index raftpb.Index, term raftpb.Term) {
	if b.err != nil {
		return
	}
	buf, start := beginRecord(b.buf, recCompact)
	buf = binary.AppendUvarint(buf, uint64(g))
	buf = binary.AppendUvarint(buf, uint64(index))
	buf = binary.AppendUvarint(buf, uint64(term))
	finishRecord(buf, start)
	b.buf = buf
	b.ops = append(b.ops, op{kind: recCompact, group: g, off: uint32(start), size: uint32(len(buf) - start), first: index, term: term})
}

// Remove drops everything the WAL holds for group g. The group may be
// used again afterwards, starting from an empty log.
func (b *Batch) Remove(g raftpb.GroupID) {
	if b.err != nil {
		return
	}
	buf, start := beginRecord(b.buf, recRemove)
	buf = binary.AppendUvarint(buf, uint64(g))
	finishRecord(buf, start)
	b.buf = buf
	b.ops = append(b.ops, op{kind: recRemove, group: g, off: uint32(start), size: uint32(len(buf) - start)})
}
