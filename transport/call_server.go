package transport

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastrpc"
)

// newCallServer builds the fastrpc server of call connections. Unlike the
// message server it does not pipeline: fastrpc runs every request in its
// own goroutine (at most MaxConcurrentCalls node-wide), so a HandleCall
// that blocks for a Raft round trip holds up neither its connection's
// reader nor the other Calls on it.
func (t *Transport) newCallServer() *fastrpc.Server {
	return &fastrpc.Server{
		SniffHeader:     callSniffHeader,
		ProtocolVersion: fastrpcProtocolVersion,
		NewHandlerCtx:   func() fastrpc.HandlerCtx { return &callCtx{t: t} },
		Handler:         t.serveCall,
		CompressType:    fastrpc.CompressNone,
		Concurrency:     t.opts.MaxConcurrentCalls,
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
		Logger:          fastrpcLogger{t},
	}
}

// callCtx is fastrpc's per-request context on the call server: the
// decoded request, then the reply to write.
type callCtx struct {
	t       *Transport
	c       *conn
	from    raftpb.NodeID
	timeout time.Duration // 0: the caller sent none
	req     []byte
	status  uint8
	answer  []byte
}

func (s *callCtx) Init(c net.Conn, _ fasthttp.Logger) {
	s.c, _ = c.(*conn)
	s.from, s.timeout, s.req, s.status, s.answer = raftpb.None, 0, nil, replyOK, nil
}

// ReadRequest reads and validates one call frame. Any error closes the
// connection (fastrpc tears it down); it is logged and counted here.
func (s *callCtx) ReadRequest(br *bufio.Reader) error {
	err := s.read(br)
	if err != nil {
		s.t.rejectFrame(s.c, err)
	}
	return err
}

func (s *callCtx) read(br *bufio.Reader) error {
	b, err := readFrame(br, s.t.opts.MaxFrameBytes)
	if err != nil {
		return err
	}
	h, body, err := parseHeader(b, s.t.opts.ClusterID, s.t.opts.NodeID)
	if err != nil {
		return err
	}
	if h.kind != kindCall {
		return fmt.Errorf("%w: kind %d on a call connection", ErrBadFrame, h.kind)
	}
	s.t.m.framesReceived.Add(1)
	s.t.m.bytesReceived.Add(uint64(len(b) + prefixBytes))
	s.from = h.from
	s.timeout, s.req, err = decodeCall(body)
	return err
}

func (s *callCtx) WriteResponse(bw *bufio.Writer) error {
	h := frameHeader{cluster: s.t.opts.ClusterID, from: s.t.opts.NodeID, to: s.from}
	_, err := bw.Write(appendReply(nil, h, s.status, s.answer))
	return err
}

// ConcurrencyLimitError answers a Call beyond MaxConcurrentCalls without
// running it.
func (s *callCtx) ConcurrencyLimitError(n int) {
	s.t.m.callsRefused.Add(1)
	s.status, s.answer = replyOverloaded, fmt.Appendf(nil, "node %d runs %d calls already", s.t.opts.NodeID, n)
}

// serveCall is the call server's Handler; it runs in its own goroutine.
func (t *Transport) serveCall(hc fastrpc.HandlerCtx) fastrpc.HandlerCtx {
	s := hc.(*callCtx)
	if p := t.existingPeer(s.from); p != nil {
		p.stats.bytesReceived.Add(uint64(len(s.req)))
	}
	h, ok := t.handler.(CallHandler)
	if !ok {
		t.m.callsRefused.Add(1)
		s.status, s.answer = replyNoHandler, fmt.Appendf(nil, "node %d answers no calls", t.opts.NodeID)
		return s
	}
	if !t.startCall() {
		t.m.callsRefused.Add(1)
		s.status, s.answer = replyClosing, fmt.Appendf(nil, "node %d is closing", t.opts.NodeID)
		return s
	}
	defer t.endCall()
	ctx, cancel := t.ctx, context.CancelFunc(func() {})
	if s.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
	}
	out := h.HandleCall(ctx, s.from, s.req)
	cancel()
	s.req = nil
	if len(out) > t.opts.MaxFrameBytes-headerBytes-callOverheadBytes {
		t.log.Error("transport: call answer larger than MaxFrameBytes", "peer", s.from, "bytes", len(out))
		s.status, s.answer = replyTooLarge, fmt.Appendf(nil, "answer of %d bytes", len(out))
		return s
	}
	t.m.callsServed.Add(1)
	s.status, s.answer = replyOK, out
	return s
}

// startCall registers a running HandleCall so Close waits for it; false
// once the transport is closing. NB: fastrpc starts the goroutine; the
// registration makes the Transport its owner for Close's purposes.
func (t *Transport) startCall() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return false
	}
	t.wg.Add(1)
	t.m.callsActive.Add(1)
	return true
}

func (t *Transport) endCall() {
	t.m.callsActive.Add(-1)
	t.wg.Done()
}
