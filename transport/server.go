package transport

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastrpc"
)

// fastrpc handshake values. Bump fastrpcProtocolVersion with wireVersion.
const (
	sniffHeader            = "flotilla-transport"
	fastrpcProtocolVersion = 1
)

// newServer builds the fastrpc server: no compression (frames are already
// compact; snapshot chunks are s2-compressed), pipelined requests so each
// connection's frames are handled in order on its reader goroutine, which
// is why HandleMessages must not block.
func (t *Transport) newServer() *fastrpc.Server {
	return &fastrpc.Server{
		SniffHeader:      sniffHeader,
		ProtocolVersion:  fastrpcProtocolVersion,
		NewHandlerCtx:    func() fastrpc.HandlerCtx { return &serverCtx{t: t} },
		Handler:          t.serve,
		CompressType:     fastrpc.CompressNone,
		PipelineRequests: true,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  64 << 10,
		Logger:           fastrpcLogger{t},
	}
}

// serverCtx is fastrpc's per-request context: the decoded frame and, for
// a snapshot chunk, the acknowledgement to write back. fastrpc pools its
// contexts (a sync.Pool of work items) and, with PipelineRequests, uses one
// at a time per connection.
type serverCtx struct {
	t    *Transport
	c    *conn
	from raftpb.NodeID
	kind frameKind
	// batch is the decoded frame. Its backing array is reused for the next
	// frame this ctx reads, which saves allocating, zeroing and scanning a
	// Message per message (about 40% of the bytes the receiver allocated);
	// the Handler contract (see Handler.HandleMessages) forbids keeping the
	// slice itself. Between frames it still references the last frame's
	// entries; an idle ctx waits in fastrpc's sync.Pool, which drops it
	// within two GC cycles, so that pins nothing for long.
	batch []raftpb.Message
	// frame is a receive buffer kept from a frame that nothing references
	// once handled (no entry data, no snapshot aliases it: heartbeats,
	// MsgAppResps, votes), for the next frame this ctx reads; nil when the
	// last frame's bytes were handed to the Handler with its entries.
	frame []byte
	chunk chunk
	ack   chunkAck
	bytes int
}

func (s *serverCtx) Init(c net.Conn, _ fasthttp.Logger) {
	s.c, _ = c.(*conn)
	s.batch, s.chunk, s.ack = s.batch[:0], chunk{}, chunkAck{}
}

// ReadRequest reads and fully validates one frame. Any error closes the
// connection (fastrpc tears it down); it is logged and counted here.
func (s *serverCtx) ReadRequest(br *bufio.Reader) error {
	err := s.read(br)
	if err != nil {
		s.t.rejectFrame(s.c, err)
	}
	return err
}

func (s *serverCtx) read(br *bufio.Reader) error {
	b, err := readFrameInto(br, s.t.opts.MaxFrameBytes, s.frame)
	s.frame = nil // until we know nothing will alias b
	if err != nil {
		return err
	}
	s.bytes = len(b) + prefixBytes
	h, body, err := parseHeader(b, s.t.opts.ClusterID, s.t.opts.NodeID)
	if err != nil {
		return err
	}
	s.from, s.kind = h.from, h.kind
	switch h.kind {
	case kindBatch:
		s.batch, err = decodeBatch(h, body, s.batch)
		if err == nil && cap(b) <= maxKeptFrame && !aliasesFrame(s.batch) {
			s.frame = b[:0]
		}
	case kindChunk:
		s.chunk, err = decodeChunk(body, s.t.opts.SnapshotChunkBytes)
	default:
		err = fmt.Errorf("%w: kind %d on the message connection", ErrBadFrame, h.kind)
	}
	return err
}

func (s *serverCtx) WriteResponse(bw *bufio.Writer) error {
	_, err := bw.Write(s.ack.append(nil))
	return err
}

func (s *serverCtx) ConcurrencyLimitError(n int) {
	s.ack = chunkAck{status: ackRefused, msg: fmt.Sprintf("transport: server concurrency limit %d", n)}
}

// serve is fastrpc's Handler. It runs on the connection's reader goroutine.
func (t *Transport) serve(hc fastrpc.HandlerCtx) fastrpc.HandlerCtx {
	s := hc.(*serverCtx)
	t.m.framesReceived.Add(1)
	t.m.bytesReceived.Add(uint64(s.bytes))
	if p := t.existingPeer(s.from); p != nil {
		p.stats.bytesReceived.Add(uint64(s.bytes))
	}
	switch s.kind {
	case kindBatch:
		var hb uint64
		for i := range s.batch {
			if s.batch[i].Type.IsHeartbeat() {
				hb++
			}
		}
		t.m.messagesReceived.Add(uint64(len(s.batch)) - hb)
		t.m.heartbeatsReceived.Add(hb)
		if len(s.batch) > 0 {
			t.handler.HandleMessages(s.batch)
		}
		s.batch = recycleBatch(s.batch)
	case kindChunk:
		s.ack = t.recv.handleChunk(s.c, s.from, &s.chunk)
		s.chunk = chunk{}
	}
	return s
}

// maxKeptBatch bounds the batch array a serverCtx keeps between frames
// (128 bytes a message): a rare huge frame's array is left to the GC.
const maxKeptBatch = 16 << 10

// maxKeptFrame bounds the receive buffer a serverCtx keeps between frames.
const maxKeptFrame = 1 << 20

// aliasesFrame reports whether any message of batch references its frame's
// bytes (entry data or a snapshot), which then belong to the Handler.
func aliasesFrame(batch []raftpb.Message) bool {
	for i := range batch {
		m := &batch[i]
		if m.Snapshot != nil {
			return true
		}
		for j := range m.Entries {
			if len(m.Entries[j].Data) > 0 {
				return true
			}
		}
	}
	return false
}

// recycleBatch returns a handled batch, emptied, for the next frame
// (decodeBatch clears what it reuses).
func recycleBatch(b []raftpb.Message) []raftpb.Message {
	if cap(b) > maxKeptBatch {
		return nil
	}
	return b[:0]
}

// rejectFrame logs and counts a refused frame. fastrpc closes the
// connection when ReadRequest returns the error.
func (t *Transport) rejectFrame(c *conn, err error) {
	remote := "?"
	if c != nil {
		remote = c.RemoteAddr().String()
	}
	if errors.Is(err, ErrClusterMismatch) {
		t.m.clusterMismatches.Add(1)
	}
	if t.isClosed() {
		return
	}
	t.m.framesRejected.Add(1)
	t.log.Error("transport: refused frame, closing connection", "remote", remote, "err", err)
	if f := t.opts.Events.FrameRejected; f != nil {
		f(remote, err)
	}
}

// fastrpcLogger adapts fasthttp.Logger (fastrpc's logger) to slog.
type fastrpcLogger struct{ t *Transport }

func (f fastrpcLogger) Printf(format string, args ...any) {
	level := slog.LevelWarn
	if f.t.isClosed() {
		level = slog.LevelDebug
	}
	f.t.log.Log(f.t.ctx, level, "transport: fastrpc: "+fmt.Sprintf(format, args...))
}
