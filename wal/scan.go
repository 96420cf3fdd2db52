package wal

import (
	"encoding/binary"
	"fmt"
)

// rawRec is one record found by scanSegment: its type byte (with flags),
// payload, offset in the segment and total size.
type rawRec struct {
	typ     byte
	payload []byte
	off     int
	size    int
}

// scanResult summarizes one segment's scan.
type scanResult struct {
	// end is the offset just past the last complete batch.
	end int
	// header says a valid segment header was found; firstSeq is the
	// sequence number it announces for the segment's first batch.
	header   bool
	firstSeq uint64
	// lastSeq is the last complete batch's sequence number (firstSeq-1,
	// or the caller's prevSeq, if there is none); known says whether it
	// is known at all.
	lastSeq uint64
	known   bool
	batches int
}

// scanSegment decodes data, the bytes of segment num, and calls fn with
// the records of every complete batch (records followed by their commit
// record) in order. prevSeq, if prevKnown, is the last batch of the
// previous segment.
//
// It never panics on any input. A record that does not check out ends the
// scan; it is a torn tail (the result's end marks the valid prefix) unless
// a valid commit record further on proves that a later batch was written
// after this one was synced, in which case it is corruption and the error
// names the segment and offset. Batches are synced in order, and each
// write is one batch, so a batch more than one past the last good one can
// only exist if the damaged one had been synced. Across segments, recover
// checks that each segment starts right after the batch the previous one
// ends with.
//
// NB: damage inside the very last batch of the newest segment, with
// nothing written after it, cannot be told from a torn write and is cut
// off like one; every format without a separate durable end marker shares
// this limit.
func scanSegment(num uint32, data []byte, prevSeq uint64, prevKnown bool, fn func(recs []rawRec, seq uint64) error) (scanResult, error) {
	mask := segMask(uint64(num))
	res := scanResult{lastSeq: prevSeq, known: prevKnown}
	off := 0
	if typ, p, n, ok := parseRecord(data, mask); ok && typ == recSegment {
		if len(p) != segmentPayload || p[0] != formatVersion || binary.LittleEndian.Uint64(p[1:]) != uint64(num) {
			return res, corruptAt(num, 0, "bad segment header")
		}
		res.header, res.firstSeq = true, binary.LittleEndian.Uint64(p[9:])
		res.lastSeq, res.known = res.firstSeq-1, true
		off, res.end = n, n
	}
	var recs []rawRec
	for off < len(data) {
		typ, p, n, ok := parseRecord(data[off:], mask)
		if !ok {
			return res, judgeTail(num, data, off, res)
		}
		switch typ & typeMask {
		case recCommit:
			if len(p) != commitPayload {
				return res, corruptAt(num, off, "bad commit record")
			}
			seq := binary.LittleEndian.Uint64(p)
			if res.known && seq != res.lastSeq+1 {
				return res, corruptAt(num, off, fmt.Sprintf("batch %d follows batch %d", seq, res.lastSeq))
			}
			if err := fn(recs, seq); err != nil {
				return res, err
			}
			recs = recs[:0]
			res.lastSeq, res.known = seq, true
			res.batches++
			res.end = off + n
		case recSegment:
			return res, corruptAt(num, off, "segment header inside segment")
		default:
			recs = append(recs, rawRec{typ: typ, payload: p, off: off, size: n})
		}
		off += n
	}
	return res, nil
}

// judgeTail decides whether the bad record at off is a torn tail (nil) or
// corruption: it looks for a valid commit record after off whose
// sequence number proves that the damaged batch had been synced.
func judgeTail(num uint32, data []byte, off int, res scanResult) error {
	mask := segMask(uint64(num))
	var seen [2]uint64
	distinct := 0
	for o := off + 1; o+commitSize <= len(data); o++ {
		if data[o+8] != recCommit || binary.LittleEndian.Uint32(data[o+4:]) != commitPayload {
			continue
		}
		if _, p, _, ok := parseRecord(data[o:o+commitSize], mask); ok {
			seq := binary.LittleEndian.Uint64(p)
			if res.known && seq >= res.lastSeq+2 {
				return corruptAt(num, off, fmt.Sprintf("bad record, yet batch %d (after last good batch %d) was written later", seq, res.lastSeq))
			}
			if distinct == 0 || (distinct == 1 && seen[0] != seq) {
				seen[distinct] = seq
				distinct++
			}
			if !res.known && distinct == 2 {
				return corruptAt(num, off, "bad record followed by two later batches")
			}
		}
	}
	return nil
}

func corruptAt(num uint32, off int, reason string) error {
	return &CorruptionError{File: segName(num), Offset: int64(off), Reason: reason}
}
