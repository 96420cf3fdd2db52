package shard

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// kvSnapshotReader encodes one pass over a snapshot view as a stream. It
// produces the stream lazily, about snapChunkBytes at a time, so memory
// stays bounded whatever the shard's size; no goroutine is involved.
type kvSnapshotReader struct {
	src   *kvSnapshotSource
	table *crc32.Table

	mu      sync.Mutex
	it      *pebble.Iterator // nil once closed
	started bool             // the iterator has been positioned
	done    bool             // the trailer has been produced
	pending []byte           // produced, not yet read
	off     int
	crc     uint32
	pairs   uint64
	err     error // sticky
}

func newKVSnapshotReader(src *kvSnapshotSource, it *pebble.Iterator) *kvSnapshotReader {
	r := &kvSnapshotReader{src: src, it: it, table: crc32.MakeTable(crc32.Castagnoli)}
	r.pending = append(r.pending, snapMagic...)
	r.pending = append(r.pending, snapVersion)
	r.pending = appendBytes(r.pending, src.state)
	r.crc = crc32.Update(0, r.table, r.pending)
	return r
}

// Read implements io.Reader.
func (r *kvSnapshotReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.it == nil {
		return 0, errSnapshotClosed
	}
	for r.off == len(r.pending) {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.produce()
	}
	n := copy(p, r.pending[r.off:])
	r.off += n
	return n, nil
}

// produce encodes the next pairs, and the trailer after the last one.
func (r *kvSnapshotReader) produce() error {
	buf := r.pending[:0]
	r.off = 0
	var ok bool
	if !r.started {
		ok, r.started = r.it.First(), true
	} else {
		ok = r.it.Next()
	}
	for ; ok; ok = r.it.Next() {
		v, err := r.it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("shard: snapshot stream: %w", err)
		}
		buf = append(buf, snapTagPair)
		buf = appendBytes(buf, r.it.Key()[1:])
		buf = appendBytes(buf, v)
		r.pairs++
		if len(buf) >= snapChunkBytes {
			break
		}
	}
	if err := r.it.Error(); err != nil {
		return fmt.Errorf("shard: snapshot stream: %w", err)
	}
	if !ok {
		buf = append(buf, snapTagEnd)
		buf = binary.AppendUvarint(buf, r.pairs)
		r.crc = crc32.Update(r.crc, r.table, buf)
		buf = binary.LittleEndian.AppendUint32(buf, r.crc)
		r.done = true
	} else {
		r.crc = crc32.Update(r.crc, r.table, buf)
	}
	r.pending = buf
	return nil
}

// Close ends this stream; the source stays open for another.
func (r *kvSnapshotReader) Close() error {
	err := r.closeIter()
	r.src.forget(r)
	return err
}

// closeIter closes the iterator once.
func (r *kvSnapshotReader) closeIter() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.it == nil {
		return nil
	}
	err := r.it.Close()
	r.it = nil
	return err
}
