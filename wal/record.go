package wal

import (
	"encoding/binary"
	"hash/crc32"
)

// Record framing (drawn in doc.go). Every record is
//
//	crc32c (4, LE) | length (4, LE) | type (1) | payload (length bytes)
//
// where crc32c covers length, type and payload, and is XORed with a mask
// derived from the segment number. The mask is why a segment file reused
// for a later segment (or read at the wrong place) cannot pass stale
// records off as current ones, and why the caller can encode a record long
// before the writer knows which segment it will land in: the writer only
// flips four bytes per record.
const (
	headerSize = 9

	recEntries   = 1
	recHardState = 2
	recCompact   = 3
	recRemove    = 4
	recCommit    = 5
	recSegment   = 6
	// recFloor says that the log starts at a segment: every older one
	// was deleted by the collector (gc.go, writeFloor).
	recFloor = 7

	// flagCompressed marks a payload compressed with s2 (block format).
	flagCompressed = 0x80
	typeMask       = 0x7f

	// maxRecordBytes bounds a record's length field, so a corrupt length
	// cannot make a reader allocate or seek without limit.
	maxRecordBytes = 1 << 30

	commitPayload  = 8
	commitSize     = headerSize + commitPayload
	segmentPayload = 1 + 8 + 8
	segmentSize    = headerSize + segmentPayload
	floorPayload   = 4
	formatVersion  = 1
)

// crcTable is the Castagnoli polynomial table, hardware-accelerated on
// amd64 and arm64.
var crcTable = crc32.MakeTable(crc32.Castagnoli) // lint:immutable

// segMask returns the checksum mask of segment seg: multiplication by an
// odd constant is a bijection on 32 bits, so two segments whose numbers
// differ below 2^32 never share a mask.
func segMask(seg uint64) uint32 { return uint32(seg+1) * 0x9E3779B1 }

// beginRecord reserves a header at the end of buf and returns buf and the
// record's start offset.
func beginRecord(buf []byte, typ byte) ([]byte, int) {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	return buf, start
}

// finishRecord fills in the length and the unmasked checksum of the record
// that starts at start and runs to the end of buf.
func finishRecord(buf []byte, start int) {
	n := len(buf) - start - headerSize
	binary.LittleEndian.PutUint32(buf[start+4:], uint32(n))
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(buf[start+4:], crcTable))
}

// maskRecord XORs the checksum of the record at rec[0:] with mask (applying
// or removing a segment's mask).
func maskRecord(rec []byte, mask uint32) {
	c := binary.LittleEndian.Uint32(rec) ^ mask
	binary.LittleEndian.PutUint32(rec, c)
}

// parseRecord checks the record at the start of b against segment mask
// mask. It returns the type byte (with flags), the payload and the
// record's total length, or ok=false if b does not start with a whole,
// valid record.
func parseRecord(b []byte, mask uint32) (typ byte, payload []byte, n int, ok bool) {
	if len(b) < headerSize {
		return 0, nil, 0, false
	}
	length := binary.LittleEndian.Uint32(b[4:])
	if length > maxRecordBytes || uint64(length) > uint64(len(b)-headerSize) {
		return 0, nil, 0, false
	}
	n = headerSize + int(length)
	want := binary.LittleEndian.Uint32(b) ^ mask
	if crc32.Checksum(b[4:n], crcTable) != want {
		return 0, nil, 0, false
	}
	typ = b[8]
	if t := typ & typeMask; t < recEntries || t > recFloor {
		return 0, nil, 0, false
	}
	return typ, b[headerSize:n], n, true
}

// appendCommit appends a commit record (unmasked) for sequence seq.
func appendCommit(buf []byte, seq uint64) []byte {
	buf, start := beginRecord(buf, recCommit)
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	finishRecord(buf, start)
	return buf
}

// appendFloor appends a floor record (unmasked): the log starts at
// segment floor.
func appendFloor(buf []byte, floor uint32) []byte {
	buf, start := beginRecord(buf, recFloor)
	buf = binary.LittleEndian.AppendUint32(buf, floor)
	finishRecord(buf, start)
	return buf
}

// appendSegmentHeader appends a segment header record (unmasked).
func appendSegmentHeader(buf []byte, seg, firstSeq uint64) []byte {
	buf, start := beginRecord(buf, recSegment)
	buf = append(buf, formatVersion)
	buf = binary.LittleEndian.AppendUint64(buf, seg)
	buf = binary.LittleEndian.AppendUint64(buf, firstSeq)
	finishRecord(buf, start)
	return buf
}
