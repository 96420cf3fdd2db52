package wal

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// recover rebuilds the index by scanning every segment in order. It runs
// in Open, before any goroutine starts.
func (w *WAL) recover() error {
	names, err := w.fs.List(w.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: listing %s: %w", w.opts.Dir, err)
	}
	var nums []uint32
	for _, name := range names {
		if name == spareName {
			if err := w.fs.Remove(w.path(name)); err != nil {
				return fmt.Errorf("wal: removing stale spare: %w", err)
			}
		}
		if n, ok := parseSegName(name); ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	rp := replayer{groups: w.idx.groups}
	var buf []byte
	var prev scanResult
	prevName := ""
	for _, num := range nums {
		seg, data, err := w.loadSegment(num, buf)
		if err != nil {
			return err
		}
		buf = data
		res, err := scanSegment(num, data, prev.lastSeq, prev.known, func(recs []rawRec, _ uint64) error {
			return rp.replay(num, recs)
		})
		if err != nil {
			return err
		}
		if res.header && prev.known && res.firstSeq != prev.lastSeq+1 {
			return &CorruptionError{File: prevName, Offset: int64(prev.end),
				Reason: fmt.Sprintf("log ends at batch %d here but %s starts at batch %d", prev.lastSeq, seg.name, res.firstSeq)}
		}
		if res.known {
			prev, prevName = res, seg.name
		}
		w.m.recoveredBytes.Add(uint64(res.end))
	}
	if err := checkFloor(nums, rp.floor); err != nil {
		return err
	}
	w.idx.liveBytes = rp.live
	w.wr.seq = prev.lastSeq
	w.wr.segNums = nums
	w.wr.nextSeg = 1
	if len(nums) > 0 {
		w.wr.nextSeg = nums[len(nums)-1] + 1
	}
	for id, g := range w.idx.groups {
		if !g.exists {
			delete(w.idx.groups, id)
			continue
		}
		g.sExists, g.sCompact, g.sLast = true, g.compact, g.last
	}
	return nil
}

// loadSegment opens segment num for reading, registers it and reads it
// whole into buf (reused across segments).
func (w *WAL) loadSegment(num uint32, buf []byte) (*segment, []byte, error) {
	name := segName(num)
	r, err := w.fs.Open(w.path(name))
	if err != nil {
		return nil, buf, fmt.Errorf("wal: opening %s: %w", name, err)
	}
	seg := &segment{num: num, name: name, r: r}
	seg.refs.Store(1)
	w.idx.segs[num] = seg
	st, err := r.Stat()
	if err != nil {
		return nil, buf, fmt.Errorf("wal: stat %s: %w", name, err)
	}
	size := int(st.Size())
	seg.bytes.Store(int64(size))
	buf = slices.Grow(buf[:0], size)[:size]
	if n, err := r.ReadAt(buf, 0); n < size && err != io.EOF {
		return nil, buf, fmt.Errorf("wal: reading %s: %w", name, err)
	}
	return seg, buf, nil
}

// replayer applies recovered batches to a group map. It is separate from
// the WAL so the fuzz target can drive it over arbitrary bytes.
type replayer struct {
	groups map[raftpb.GroupID]*group
	live   int64
	// floor is the oldest segment the log must still have (the largest
	// floor record; 0 if the collector never deleted one).
	floor   uint32
	scratch []byte
	terms   []termRun
}

func (rp *replayer) group(id raftpb.GroupID) *group {
	g := rp.groups[id]
	if g == nil {
		g = &group{id: id}
		rp.groups[id] = g
	}
	return g
}

// replay applies one complete batch found in segment num.
func (rp *replayer) replay(num uint32, recs []rawRec) error {
	for _, r := range recs {
		if err := rp.apply(num, r); err != nil {
			return &CorruptionError{File: segName(num), Offset: int64(r.off), Reason: err.Error()}
		}
	}
	return nil
}

func (rp *replayer) apply(num uint32, r rawRec) error {
	p, sc, err := plainPayload(r.typ, r.payload, rp.scratch)
	rp.scratch = sc
	if err != nil {
		return err
	}
	switch r.typ & typeMask {
	case recEntries:
		h, body, err := decodeEntriesHeader(p)
		if err != nil {
			return err
		}
		if rp.terms, err = appendTermRuns(rp.terms[:0], h.first, h.count, body); err != nil {
			return err
		}
		rp.live += rp.group(h.group).applyAppend(loc{seg: num, off: uint32(r.off)}, uint32(r.size), h.first, h.count, rp.terms)
	case recHardState:
		id, hs, err := decodeHardState(p)
		if err != nil {
			return err
		}
		g := rp.group(id)
		g.touch(num)
		g.hs = hs
	case recCompact:
		id, idx, term, err := decodeCompact(p)
		if err != nil {
			return err
		}
		rp.live += rp.group(id).applyCompact(num, idx, term)
	case recRemove:
		id, err := decodeRemove(p)
		if err != nil {
			return err
		}
		rp.live += rp.group(id).applyRemove()
	case recFloor:
		if len(p) != floorPayload {
			return fmt.Errorf("bad floor record (%d bytes)", len(p))
		}
		rp.floor = max(rp.floor, binary.LittleEndian.Uint32(p))
	}
	return nil
}

// checkFloor reports segments missing from the start of the log: the
// oldest present must be the floor the collector last made durable (or
// segment 1 if it never deleted one). An older one is a leftover of a
// crash between that record and the deletions, and is collected again.
// (A segment missing in the middle breaks the batch sequence, which
// recover checks; a newest segment lost whole cannot be told from one
// never written.)
func checkFloor(nums []uint32, floor uint32) error {
	want := max(floor, 1)
	if len(nums) == 0 || nums[0] <= want {
		return nil
	}
	return &CorruptionError{File: segName(nums[0]), Offset: 0,
		Reason: fmt.Sprintf("segments before it are missing: the log's recorded start is %s", segName(want))}
}
