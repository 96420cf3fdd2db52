package transport

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

// receiver bounds the snapshot streams being received node-wide.
type receiver struct {
	t      *Transport
	active atomic.Int32 // Invariant: <= Options.MaxIncomingSnapshots
}

// inbound is the per-connection receive state: the snapshot streams that
// arrive on one accepted connection. Chunks of one connection are handled
// in order on its reader goroutine (fastrpc PipelineRequests), so a stream
// never spans connections: when the connection closes its partial streams
// are discarded and the sender restarts from the beginning.
type inbound struct {
	t  *Transport
	c  *conn
	mu struct {
		sync.Mutex
		streams map[uint64]*stream
		closed  bool
	}
	raw []byte // decompression buffer, reused; reader goroutine only
}

// stream is one snapshot being received, spooled to a file until its last
// chunk arrives and verifies.
type stream struct {
	from raftpb.NodeID
	msg  raftpb.Message
	next uint64 // expected seq
	file *os.File
	size uint64
	crc  uint32
	done atomic.Bool // released: file closed and removed, slot returned
}

// handleChunk stores one chunk and, on the last, verifies the stream and
// asks the Handler to install it. It returns the acknowledgement.
func (r *receiver) handleChunk(c *conn, from raftpb.NodeID, ch *chunk) chunkAck {
	if c == nil || c.inbound == nil {
		return chunkAck{status: ackRefused, msg: "transport: chunk on an unknown connection"}
	}
	in := c.inbound
	s, ack := in.stream(from, ch)
	if s == nil {
		return ack
	}
	raw, err := s2.Decode(in.raw[:cap(in.raw)], ch.data)
	if err != nil {
		in.abort(ch.stream, s)
		return chunkAck{status: ackCorrupt, msg: fmt.Sprintf("transport: chunk %d: %v", ch.seq, err)}
	}
	in.raw = raw[:0]
	s.size += uint64(len(raw))
	if s.size > uint64(r.t.opts.MaxSnapshotBytes) {
		in.abort(ch.stream, s)
		return chunkAck{status: ackRejected, msg: fmt.Sprintf("transport: snapshot larger than %d bytes", r.t.opts.MaxSnapshotBytes)}
	}
	s.crc = crc32.Update(s.crc, castagnoli, raw)
	if _, err := s.file.Write(raw); err != nil {
		in.abort(ch.stream, s)
		return chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: spool snapshot: %v", err)}
	}
	s.next++
	if ch.flags&chunkLast == 0 {
		return chunkAck{status: ackOK}
	}
	in.forget(ch.stream)
	return r.install(s, ch)
}

// stream finds or starts the stream ch belongs to, refusing chunks out of
// order, unknown streams and streams beyond the node-wide bound.
func (in *inbound) stream(from raftpb.NodeID, ch *chunk) (*stream, chunkAck) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.mu.closed {
		return nil, chunkAck{status: ackRefused, msg: "transport: connection closing"}
	}
	s := in.mu.streams[ch.stream]
	if ch.flags&chunkFirst != 0 {
		if s != nil || ch.seq != 0 {
			in.abortLocked(ch.stream, s)
			return nil, chunkAck{status: ackRefused, msg: "transport: duplicate stream start"}
		}
		return in.startLocked(from, ch)
	}
	if s == nil {
		return nil, chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: unknown snapshot stream %d", ch.stream)}
	}
	if s.from != from || ch.seq != s.next {
		in.abortLocked(ch.stream, s)
		return nil, chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: chunk %d out of order (want %d)", ch.seq, s.next)}
	}
	return s, chunkAck{}
}

func (in *inbound) startLocked(from raftpb.NodeID, ch *chunk) (*stream, chunkAck) {
	r := in.t.recv
	// A new stream for a group supersedes any partial one for it: the
	// sender gave up on the old one (timeout) and restarted.
	for id, old := range in.mu.streams {
		if old.from == from && old.msg.Group == ch.msg.Group {
			in.abortLocked(id, old)
		}
	}
	if int(r.active.Add(1)) > in.t.opts.MaxIncomingSnapshots {
		r.active.Add(-1)
		return nil, chunkAck{status: ackRefused, msg: "transport: too many incoming snapshots"}
	}
	f, err := os.CreateTemp(in.t.opts.SnapshotDir, fmt.Sprintf("flotilla-snap-%d-%d-*", from, ch.msg.Group))
	if err != nil {
		r.active.Add(-1)
		return nil, chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: spool snapshot: %v", err)}
	}
	s := &stream{from: from, msg: ch.msg, file: f}
	s.msg.From, s.msg.To = from, in.t.opts.NodeID
	if in.mu.streams == nil {
		in.mu.streams = make(map[uint64]*stream)
	}
	in.mu.streams[ch.stream] = s
	return s, chunkAck{}
}

// install verifies a complete stream and hands it to the Handler.
func (r *receiver) install(s *stream, ch *chunk) chunkAck {
	defer r.release(s)
	if s.size != ch.size || s.crc != ch.crc {
		r.t.m.snapshotStreamsAborted.Add(1)
		return chunkAck{status: ackCorrupt, msg: fmt.Sprintf("transport: snapshot size/crc %d/%08x, sender says %d/%08x", s.size, s.crc, ch.size, ch.crc)}
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: rewind spooled snapshot: %v", err)}
	}
	data := bufio.NewReaderSize(io.LimitReader(s.file, int64(s.size)), 256<<10)
	if err := r.t.handler.HandleSnapshot(r.t.ctx, s.msg, data); err != nil {
		r.t.m.snapshotInstallFailures.Add(1)
		return chunkAck{status: ackRejected, msg: err.Error()}
	}
	r.t.m.snapshotsReceived.Add(1)
	return chunkAck{status: ackOK}
}

// release closes and deletes a stream's spool file.
func (r *receiver) release(s *stream) {
	if !s.done.CompareAndSwap(false, true) {
		return
	}
	s.file.Close()
	os.Remove(s.file.Name())
	r.active.Add(-1)
}

func (in *inbound) forget(id uint64) {
	in.mu.Lock()
	delete(in.mu.streams, id)
	in.mu.Unlock()
}

func (in *inbound) abort(id uint64, s *stream) {
	in.mu.Lock()
	in.abortLocked(id, s)
	in.mu.Unlock()
}

func (in *inbound) abortLocked(id uint64, s *stream) {
	if s == nil || in.mu.streams[id] != s {
		return
	}
	delete(in.mu.streams, id)
	in.t.m.snapshotStreamsAborted.Add(1)
	in.t.recv.release(s)
}

// closed discards the connection's partial streams.
func (in *inbound) closed() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.closed = true
	for id, s := range in.mu.streams {
		in.abortLocked(id, s)
	}
}
