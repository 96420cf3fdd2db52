package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Frame layout constants. The layout is drawn in doc.go; change
// wireVersion (and fastrpcProtocolVersion) whenever it changes.
const (
	wireVersion = 1

	prefixBytes = 8 // u32 length, u32 CRC32C
	// headerBytes is the fixed header after the prefix: version, kind,
	// cluster, from, to, message count, heartbeat count.
	headerBytes = 1 + 1 + 8 + 8 + 8 + 4 + 4

	// maxFrameLimit is the hard ceiling for Options.MaxFrameBytes.
	maxFrameLimit = 1 << 30
)

// frameKind says what a frame's body holds.
type frameKind uint8

const (
	kindBatch frameKind = 1 // Raft messages and coalesced heartbeats
	kindChunk frameKind = 2 // one snapshot chunk (request/response path)
	kindCall  frameKind = 3 // a Call request (call connection only)
	kindReply frameKind = 4 // the answer to a Call (call connection only)
)

// lint:immutable (a read-only lookup table)
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameHeader is the decoded fixed header of a frame.
type frameHeader struct {
	kind       frameKind
	cluster    uint64
	from, to   raftpb.NodeID
	messages   uint32
	heartbeats uint32
}

// beginFrame appends a prefix and header with zero counts to buf and
// returns it; finishFrame fills the length, CRC and counts in.
func beginFrame(buf []byte, h frameHeader) []byte {
	buf = append(buf, make([]byte, prefixBytes)...)
	buf = append(buf, wireVersion, byte(h.kind))
	buf = binary.LittleEndian.AppendUint64(buf, h.cluster)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(h.from))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(h.to))
	return binary.LittleEndian.AppendUint64(buf, 0) // both counts
}

// finishFrame patches the counts, length and checksum of the frame that
// starts at buf[0].
func finishFrame(buf []byte, messages, heartbeats uint32) {
	binary.LittleEndian.PutUint32(buf[prefixBytes+26:], messages)
	binary.LittleEndian.PutUint32(buf[prefixBytes+30:], heartbeats)
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(buf)-prefixBytes))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[prefixBytes:], castagnoli))
}

// readFrame reads one frame from br, checking its length against max
// before allocating and its checksum after. It returns the frame's bytes
// after the prefix (header and body) in a new buffer the caller owns.
func readFrame(br *bufio.Reader, max int) ([]byte, error) {
	return readFrameInto(br, max, nil)
}

// readFrameInto is readFrame reading into buf's backing array when it is
// large enough: the caller must hold no other reference into it.
func readFrameInto(br *bufio.Reader, max int, buf []byte) ([]byte, error) {
	var prefix [prefixBytes]byte
	if _, err := io.ReadFull(br, prefix[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated prefix: %w", ErrBadFrame, err)
	}
	n := binary.LittleEndian.Uint32(prefix[0:])
	if int64(n) > int64(max) || n < headerBytes {
		return nil, fmt.Errorf("%w: length %d outside [%d, %d]", ErrBadFrame, n, headerBytes, max)
	}
	b := buf[:0]
	if uint32(cap(b)) >= n {
		b = b[:n]
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("%w: truncated body (%d bytes expected): %w", ErrBadFrame, n, err)
	}
	if got, want := crc32.Checksum(b, castagnoli), binary.LittleEndian.Uint32(prefix[4:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrBadFrame, got, want)
	}
	return b, nil
}

// parseHeader decodes the fixed header of b (a frame without its prefix)
// and checks it against this node's cluster and ID. It returns the body.
func parseHeader(b []byte, cluster uint64, self raftpb.NodeID) (frameHeader, []byte, error) {
	var h frameHeader
	if len(b) < headerBytes {
		return h, nil, fmt.Errorf("%w: short header", ErrBadFrame)
	}
	if b[0] != wireVersion {
		return h, nil, fmt.Errorf("%w: version %d", ErrBadFrame, b[0])
	}
	h.kind = frameKind(b[1])
	h.cluster = binary.LittleEndian.Uint64(b[2:])
	h.from = raftpb.NodeID(binary.LittleEndian.Uint64(b[10:]))
	h.to = raftpb.NodeID(binary.LittleEndian.Uint64(b[18:]))
	h.messages = binary.LittleEndian.Uint32(b[26:])
	h.heartbeats = binary.LittleEndian.Uint32(b[30:])
	switch {
	case h.kind < kindBatch || h.kind > kindReply:
		return h, nil, fmt.Errorf("%w: kind %d", ErrBadFrame, h.kind)
	case h.cluster != cluster:
		return h, nil, fmt.Errorf("%w: cluster %d, ours %d", ErrClusterMismatch, h.cluster, cluster)
	case h.to != self:
		return h, nil, fmt.Errorf("%w: to node %d, we are %d", ErrMisrouted, h.to, self)
	case h.from == raftpb.None || h.from == self:
		return h, nil, fmt.Errorf("%w: from node %d", ErrBadFrame, h.from)
	}
	return h, b[headerBytes:], nil
}
