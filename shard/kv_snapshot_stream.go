package shard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// ErrBadSnapshot marks a snapshot stream that is truncated, corrupt, or
// does not match the state it is installed with. Nothing was installed;
// the sender should restart the stream (SnapshotSource.Open again).
var ErrBadSnapshot = errors.New("shard: bad snapshot stream")

// The KV's snapshot stream, as produced by a SnapshotSource and read by
// Install:
//
//	| part     | encoding                                              |
//	|----------|-------------------------------------------------------|
//	| header   | 4 bytes "FKVS", 1 byte version (1)                    |
//	| state    | uvarint len, MarshalShardState of the shard           |
//	| pair *   | 1 byte tag (1), uvarint len, user key,                |
//	|          |   uvarint len, value; keys strictly increasing        |
//	| trailer  | 1 byte tag (0), uvarint pair count,                   |
//	|          |   4 bytes CRC-32C (little-endian) of all bytes before |
//
// It is not compressed: the transport compresses snapshot chunks. The
// checksum is checked before anything is ingested, so a stream cut short or
// damaged anywhere is refused whole.
const (
	snapMagic       = "FKVS"
	snapVersion     = 1
	snapTagEnd      = 0
	snapTagPair     = 1
	snapChunkBytes  = 64 << 10
	maxSnapState    = 1 << 20
	maxSnapKeyBytes = 64 << 20
	maxSnapValBytes = 1 << 30
)

// snapStreamReader reads a snapshot stream, keeping the CRC-32C of every
// byte consumed. Length fields are bounded, and buffers grow only as data
// actually arrives, so a forged length cannot make it allocate ahead.
type snapStreamReader struct {
	br    *bufio.Reader
	table *crc32.Table
	crc   uint32
	one   [1]byte
}

func newSnapStreamReader(r io.Reader) *snapStreamReader {
	return &snapStreamReader{br: bufio.NewReaderSize(r, snapChunkBytes), table: crc32.MakeTable(crc32.Castagnoli)}
}

// ReadByte makes the reader an io.ByteReader for binary.ReadUvarint.
func (s *snapStreamReader) ReadByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, snapReadErr("byte", err)
	}
	s.one[0] = c
	s.crc = crc32.Update(s.crc, s.table, s.one[:])
	return c, nil
}

func (s *snapStreamReader) uvarint(what string) (uint64, error) {
	v, err := binary.ReadUvarint(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrBadSnapshot, what, err)
	}
	return v, nil
}

// field reads a uvarint length (at most max) and that many bytes into
// dst[:0], returning the bytes.
func (s *snapStreamReader) field(dst []byte, max uint64, what string) ([]byte, error) {
	n, err := s.uvarint(what)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%w: %s length %d over %d", ErrBadSnapshot, what, n, max)
	}
	return s.fill(dst[:0], int(n), what)
}

// fill appends n bytes of the stream to dst in bounded chunks.
func (s *snapStreamReader) fill(dst []byte, n int, what string) ([]byte, error) {
	for len(dst) < n {
		k := len(dst)
		chunk := min(n-k, snapChunkBytes)
		dst = slices.Grow(dst, chunk)[:k+chunk]
		if _, err := io.ReadFull(s.br, dst[k:]); err != nil {
			return nil, snapReadErr(what, err)
		}
		s.crc = crc32.Update(s.crc, s.table, dst[k:])
	}
	return dst, nil
}

// trailer reads the pair count and checksum after the end tag, checks
// them, and checks that the stream ends there.
func (s *snapStreamReader) trailer(pairs uint64) error {
	n, err := s.uvarint("pair count")
	if err != nil {
		return err
	}
	if n != pairs {
		return fmt.Errorf("%w: trailer counts %d pairs, stream had %d", ErrBadSnapshot, n, pairs)
	}
	want := s.crc
	var sum [4]byte
	if _, err := io.ReadFull(s.br, sum[:]); err != nil {
		return snapReadErr("checksum", err)
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return fmt.Errorf("%w: checksum %#08x, computed %#08x", ErrBadSnapshot, got, want)
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: bytes after the trailer", ErrBadSnapshot)
	}
	return nil
}

// snapReadErr turns a read failure into an ErrBadSnapshot, keeping the
// cause (a truncated stream shows as io.ErrUnexpectedEOF).
func snapReadErr(what string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: reading %s: %w", ErrBadSnapshot, what, err)
}
