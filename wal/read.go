package wal

import (
	"fmt"
	"slices"
	"sort"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// State is the durable shape of one group's log.
type State struct {
	HardState raftpb.HardState
	// Compact is the compaction point: entries at or below it are gone,
	// and CompactTerm is the term of the entry at Compact (0 if unknown).
	Compact     raftpb.Index
	CompactTerm raftpb.Term
	// FirstIndex is Compact+1; LastIndex is the last entry's index, or
	// Compact when the log is empty.
	FirstIndex raftpb.Index
	LastIndex  raftpb.Index
}

// GroupState returns the durable state of group g, and false if the WAL
// holds nothing for it. Only durable data is visible: a batch's records
// appear once its Commit has returned (or is about to).
func (w *WAL) GroupState(g raftpb.GroupID) (State, bool) {
	w.idx.RLock()
	defer w.idx.RUnlock()
	gr := w.idx.groups[g]
	if gr == nil || !gr.exists {
		return State{FirstIndex: 1}, false
	}
	return State{HardState: gr.hs, Compact: gr.compact, CompactTerm: gr.compactTerm,
		FirstIndex: gr.compact + 1, LastIndex: gr.last}, true
}

// HardState returns group g's last durable hard state (zero if none).
func (w *WAL) HardState(g raftpb.GroupID) raftpb.HardState {
	s, _ := w.GroupState(g)
	return s.HardState
}

// FirstIndex returns the index of group g's first available entry:
// compaction point + 1, so 1 for a group the WAL does not know.
func (w *WAL) FirstIndex(g raftpb.GroupID) raftpb.Index {
	s, _ := w.GroupState(g)
	return s.FirstIndex
}

// LastIndex returns the index of group g's last entry (the compaction
// point if the log is empty, 0 for an unknown group).
func (w *WAL) LastIndex(g raftpb.GroupID) raftpb.Index {
	s, _ := w.GroupState(g)
	return s.LastIndex
}

// Groups returns the groups the WAL holds anything for, in no order.
func (w *WAL) Groups() []raftpb.GroupID {
	w.idx.RLock()
	defer w.idx.RUnlock()
	ids := make([]raftpb.GroupID, 0, len(w.idx.groups))
	for id, g := range w.idx.groups {
		if g.exists {
			ids = append(ids, id)
		}
	}
	return ids
}

// Term returns the term of group g's entry i. i may be the compaction
// point (its term is kept); below it Term returns ErrCompacted, above the
// last index ErrUnavailable.
func (w *WAL) Term(g raftpb.GroupID, i raftpb.Index) (raftpb.Term, error) {
	w.idx.RLock()
	defer w.idx.RUnlock()
	gr := w.idx.groups[g]
	if gr == nil || !gr.exists {
		if i == 0 {
			return 0, nil
		}
		return 0, ErrUnavailable
	}
	switch {
	case i < gr.compact:
		return 0, ErrCompacted
	case i > gr.last:
		return 0, ErrUnavailable
	}
	return gr.term(i), nil
}

// recRef is one record an Entries call must read.
type recRef struct {
	s       span
	seg     *segment
	cached  bool
	at, end int
}

// Entries returns group g's entries in [lo, hi), stopping early once
// their summed Entry.Size would exceed maxBytes (but always returning at
// least one entry). lo at or below the compaction point gives
// ErrCompacted; hi beyond last+1 gives ErrUnavailable. The entries' Data
// never aliases the WAL's buffers.
func (w *WAL) Entries(g raftpb.GroupID, lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	refs, buf, err := w.locate(g, lo, hi)
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	defer func() {
		for _, r := range refs {
			if r.seg != nil {
				r.seg.release()
			}
		}
	}()
	for i := range refs {
		r := &refs[i]
		if r.cached {
			continue
		}
		r.at = len(buf)
		if buf, err = readAt(buf, r.seg, r.s.off, r.s.size); err != nil {
			return nil, err
		}
		r.end = len(buf)
		w.m.preads.Add(1)
	}
	return w.decodeEntries(refs, buf, lo, hi, maxBytes)
}

// locate finds the records holding [lo, hi) of g. Cached records are
// copied into buf under the read lock; the others' segments are pinned
// (the caller releases them) so that they can be read without the lock.
func (w *WAL) locate(g raftpb.GroupID, lo, hi raftpb.Index) ([]recRef, []byte, error) {
	w.idx.RLock()
	defer w.idx.RUnlock()
	gr := w.idx.groups[g]
	if gr == nil || !gr.exists {
		if lo >= hi {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: group %d", ErrUnavailable, g)
	}
	switch {
	case lo <= gr.compact:
		return nil, nil, fmt.Errorf("%w: group %d index %d, compaction point %d", ErrCompacted, g, lo, gr.compact)
	case hi > gr.last+1:
		return nil, nil, fmt.Errorf("%w: group %d index %d, last %d", ErrUnavailable, g, hi-1, gr.last)
	case lo >= hi:
		return nil, nil, nil
	}
	var refs []recRef
	var buf []byte
	i := sort.Search(len(gr.spans), func(i int) bool { return gr.spans[i].last() >= lo })
	for ; i < len(gr.spans) && gr.spans[i].first < hi; i++ {
		s := gr.spans[i]
		at := len(buf)
		var ok bool
		if buf, ok = w.idx.cache.read(buf, s.seg, s.off, s.size); ok {
			refs = append(refs, recRef{s: s, cached: true, at: at, end: len(buf)})
			w.m.cacheHits.Add(1)
			continue
		}
		seg := w.idx.segs[s.seg]
		if seg == nil {
			return nil, nil, fmt.Errorf("wal: group %d: segment %d missing", g, s.seg)
		}
		seg.refs.Add(1)
		refs = append(refs, recRef{s: s, seg: seg})
	}
	return refs, buf, nil
}

// readAt appends the record of size bytes at off of seg to dst, checking
// its checksum.
func readAt(dst []byte, seg *segment, off, size uint32) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, int(size))[:start+int(size)]
	if n, err := seg.r.ReadAt(dst[start:], int64(off)); n < int(size) {
		return dst[:start], fmt.Errorf("wal: reading %s at %d: %w", seg.name, off, err)
	}
	if _, _, _, ok := parseRecord(dst[start:], segMask(uint64(seg.num))); !ok {
		return dst[:start], &CorruptionError{File: seg.name, Offset: int64(off), Reason: "record checksum mismatch on read"}
	}
	return dst, nil
}

// readRecord appends the record at (seg, off) to dst, from the tail cache
// or the file. Writer goroutine only (it alone changes both).
func (w *WAL) readRecord(dst []byte, seg, off, size uint32) ([]byte, error) {
	if out, ok := w.idx.cache.read(dst, seg, off, size); ok {
		return out, nil
	}
	s := w.idx.segs[seg]
	if s == nil {
		return dst, fmt.Errorf("wal: segment %d missing", seg)
	}
	return readAt(dst, s, off, size)
}

// decodeEntries decodes the wanted entries out of the records in buf.
func (w *WAL) decodeEntries(refs []recRef, buf []byte, lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	ents := make([]raftpb.Entry, 0, min(int(hi-lo), 1024))
	var arena, scratch []byte
	var total uint64
	for _, r := range refs {
		rec := buf[r.at:r.end]
		typ := rec[8]
		p, sc, err := plainPayload(typ, rec[headerSize:], scratch)
		scratch = sc
		if err != nil {
			return nil, w.recordCorruption(r, err)
		}
		h, body, err := decodeEntriesHeader(p)
		if err != nil {
			return nil, w.recordCorruption(r, err)
		}
		end := min(r.s.last()+1, hi)
		for idx := h.first; idx < end; idx++ {
			term, et, data, rest, err := nextEntry(body)
			if err != nil {
				return nil, w.recordCorruption(r, err)
			}
			body = rest
			if idx < lo {
				continue
			}
			e := raftpb.Entry{Term: term, Index: idx, Type: et}
			total += e.Size() + uint64(len(data))
			if len(ents) > 0 && total > maxBytes {
				return ents, nil
			}
			if len(data) > 0 {
				arena = append(arena, data...)
				e.Data = arena[len(arena)-len(data) : len(arena) : len(arena)]
			}
			ents = append(ents, e)
		}
	}
	return ents, nil
}

// recordCorruption names the record a decode error was found in.
func (w *WAL) recordCorruption(r recRef, err error) error {
	return &CorruptionError{File: segName(r.s.seg), Offset: int64(r.s.off), Reason: err.Error()}
}
