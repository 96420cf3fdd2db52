package transport

import (
	"bytes"
	"context"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Call implements Caller in memory. The callee's CallHandler runs
// synchronously on the caller's goroutine, outside the virtual clock: a
// Call does not wait for Advance, but a handler that waits for Raft does,
// so the test must keep advancing the network from another goroutine
// while Calls run. A cut link in either direction, a missing or closed
// node, or a DropRate draw (the request is lost; nothing ran) fail it
// with ErrUnreachable, as the TCP transport would; a callee without a
// CallHandler refuses it (ErrCallRefused). Request and answer are
// copied, so caller and callee share no memory.
func (t *MemTransport) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(to, err)
	}
	n := t.n
	n.mu.Lock()
	if t.unusableLocked() {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	dst := n.nodes[to]
	f := n.faultsLocked(t.id, to)
	lost := n.cut[linkKey{t.id, to}] || n.cut[linkKey{to, t.id}] || dst == nil || dst.closed ||
		(f.DropRate > 0 && n.rng.Float64() < f.DropRate)
	n.mu.Unlock()
	if lost {
		return nil, fmt.Errorf("%w: link %d->%d down", ErrUnreachable, t.id, to)
	}
	h, ok := dst.h.(CallHandler)
	if !ok {
		return nil, fmt.Errorf("%w: node %d answers no calls", ErrCallRefused, to)
	}
	out := h.HandleCall(ctx, t.id, bytes.Clone(req))
	n.mu.Lock()
	// A link cut while the call ran loses the answer: the request ran.
	lost = n.cut[linkKey{to, t.id}] || t.unusableLocked()
	n.mu.Unlock()
	if lost {
		return nil, fmt.Errorf("%w: link %d->%d cut before the answer", ErrUnreachable, to, t.id)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(to, err)
	}
	return bytes.Clone(out), nil
}
