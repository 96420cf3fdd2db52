package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fastrpc"
)

// CallHandler is the optional side of a Handler that answers Calls: the
// store implements it to run requests forwarded by other nodes. A Handler
// without it makes every incoming Call fail with ErrCallRefused.
type CallHandler interface {
	// HandleCall runs req, sent by node from, and returns the answer. It
	// may block (each Call runs in its own goroutine, up to
	// MaxConcurrentCalls); ctx ends at the caller's deadline or on Close.
	// req is valid only during the call; the answer is not retained.
	HandleCall(ctx context.Context, from raftpb.NodeID, req []byte) []byte
}

// Caller is what the store uses to forward requests. *Transport and
// *MemTransport implement it.
type Caller interface {
	Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error)
}

var (
	_ Caller = (*Transport)(nil)
	_ Caller = (*MemTransport)(nil)
)

// callSniffHeader opens call connections; it has sniffHeader's length so
// the demux decides after reading that many bytes.
const callSniffHeader = "flotilla-rpc-calls"

// Call sends req to node `to` and returns its CallHandler's answer.
//
// Calls travel on a third connection per peer, served on the callee by a
// fastrpc server that runs each request in its own goroutine: a Call that
// blocks for a Raft round trip never delays Raft frames or heartbeats
// (their server handles frames in order on the reader goroutine) nor
// other Calls. Designs rejected: calls on the message connection (a
// blocking handler stalls the reader, and with it heartbeats); a second
// port (another address to configure and resolve per node); answers as
// one-way frames back over the callee's own message link (a second
// connection's failure to correlate, and the answer depends on the callee
// reaching the caller).
//
// Call blocks until the answer, ctx's deadline, or CallTimeout when ctx
// has none. NB: fastrpc cannot withdraw a request, so a cancellation
// without a deadline is only noticed when the call ends; Close fails the
// calls on a live connection at once, and calls queued for a peer that
// cannot be dialed end at their deadline. While the last dial to `to`
// failed and its backoff runs, Call fails at once instead of queueing.
//
// Errors: ErrUnreachable (no connection, or it broke: a sent request may
// have run), ErrTimeout (no answer by the deadline: it may have run; with
// ctx's error wrapped when ctx ended), ErrCallRefused (the callee did not
// run it; safe to retry), ErrCallTooLarge, ErrClosed.
func (t *Transport) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	out, err := t.call(ctx, to, req)
	if err != nil {
		t.m.callsFailed.Add(1)
	}
	return out, err
}

func (t *Transport) call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(to, err)
	}
	if to == raftpb.None || to == t.opts.NodeID {
		return nil, fmt.Errorf("%w: call to node %d from node %d", ErrCallRefused, to, t.opts.NodeID)
	}
	if len(req) > t.opts.MaxFrameBytes-headerBytes-callOverheadBytes {
		return nil, fmt.Errorf("%w: request of %d bytes, MaxFrameBytes %d", ErrCallTooLarge, len(req), t.opts.MaxFrameBytes)
	}
	p := t.peer(to)
	if p == nil || t.isClosed() { // peer returns existing peers even after Close
		return nil, ErrClosed
	}
	if err := p.call.backingOff(); err != nil {
		return nil, fmt.Errorf("%w: node %d: %w", ErrUnreachable, to, err)
	}
	deadline := time.Now().Add(t.opts.CallTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	h := frameHeader{cluster: t.opts.ClusterID, from: t.opts.NodeID, to: to}
	// At least 1 ms: 0 would tell the callee the caller has no deadline.
	wait := max(time.Until(deadline), time.Millisecond)
	r := &callRequest{buf: appendCall(nil, h, wait, req)}
	rep := &callReply{t: t, peer: to}
	t.m.callsSent.Add(1)
	p.stats.bytesSent.Add(uint64(len(r.buf)))
	if err := p.call.client.DoDeadline(r, rep, deadline); err != nil {
		return nil, t.callError(ctx, p.call, err)
	}
	if err := ctx.Err(); err != nil {
		// The answer came after ctx ended; the caller has given up.
		return nil, ctxError(to, err)
	}
	return rep.answer(to)
}

// callError classifies a fastrpc failure. fastrpc's errors are strings:
// ErrTimeout and ErrPendingRequestsOverflow are recognisable, anything
// else is a connection failure (fastrpc reports its last connection error
// even when the deadline passed). A timeout while the link is down after
// a failure (e.g. a refused TLS handshake, during which fastrpc still says
// timeout) is reported as unreachable too.
func (t *Transport) callError(ctx context.Context, l *link, err error) error {
	to, cerr := l.p.id, ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		// fastrpc timed out at ctx's deadline a moment before ctx's own
		// timer marked it done: the cause is the same.
		cerr = context.DeadlineExceeded
	}
	if errors.Is(err, fastrpc.ErrTimeout) && !l.connected.Load() {
		if last := l.lastError(); last != "" {
			err = fmt.Errorf("%s (after %w)", last, err)
		}
	}
	switch {
	case t.isClosed():
		return fmt.Errorf("%w: call to node %d: %v", ErrClosed, to, err)
	case errors.Is(err, fastrpc.ErrPendingRequestsOverflow):
		return fmt.Errorf("%w: more than %d calls in flight to node %d", ErrCallRefused, t.opts.MaxInflightCalls, to)
	case err == fastrpc.ErrTimeout && cerr != nil:
		return ctxError(to, cerr)
	case err == fastrpc.ErrTimeout:
		return fmt.Errorf("%w: call to node %d", ErrTimeout, to)
	case cerr != nil:
		return fmt.Errorf("%w: call to node %d: %v (%w)", ErrUnreachable, to, err, cerr)
	}
	return fmt.Errorf("%w: call to node %d: %v", ErrUnreachable, to, err)
}

// ctxError reports a Call ended by its ctx: a deadline is ErrTimeout too.
func ctxError(to raftpb.NodeID, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: call to node %d: %w", ErrTimeout, to, err)
	}
	return fmt.Errorf("transport: call to node %d: %w", to, err)
}

// answer turns a decoded reply into Call's result.
func (r *callReply) answer(to raftpb.NodeID) ([]byte, error) {
	switch r.status {
	case replyOK:
		return r.payload, nil
	case replyTooLarge:
		return nil, fmt.Errorf("%w: node %d ran the call but its answer does not fit a frame: %s", ErrCallTooLarge, to, r.payload)
	}
	return nil, fmt.Errorf("%w: node %d: %s", ErrCallRefused, to, r.payload)
}

// backingOff returns the last dial error while the link is down and its
// backoff has not run out: a Call then fails at once rather than wait in
// fastrpc's queue for a dial that is not due.
func (l *link) backingOff() error {
	if l.connected.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.lastErr != nil && time.Now().Before(l.mu.nextDial) {
		return l.mu.lastErr
	}
	return nil
}
