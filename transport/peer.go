package transport

import (
	"bufio"
	"sync"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fastrpc"
)

// peer is everything this node keeps for one remote node: the frames
// being filled for it, the heartbeats waiting for it, the goroutine that
// hands frames to fastrpc, and the three links (messages, snapshots,
// calls).
//
// Send encodes each message straight into the open frame under mu (so the
// caller may reuse its entries as soon as Send returns, and nothing is
// copied twice) and wakes run when the queue turns non-empty; run takes
// every queued frame at once. Everything queued while the previous frame
// was being written therefore leaves in the next single frame: that is the
// batching, and there is no timer. A new frame is started only when the
// open one would exceed MaxFrameBytes.
type peer struct {
	t    *Transport
	id   raftpb.NodeID
	msg  *link // Raft frames: fastrpc SendNowait
	snap *link // snapshot chunks: fastrpc DoDeadline, its own connection
	call *link // Calls: fastrpc DoDeadline, its own connection and server

	wake     chan struct{} // capacity 1: "the queue may be non-empty"
	released chan struct{} // capacity 1: "an in-flight frame was written"
	inflight atomic.Int32  // frames handed to fastrpc, not yet written
	free     chan *frame   // reusable frames

	mu struct {
		sync.Mutex
		frames  []*frame // the last one is open for appends
		queued  int      // Invariant: messages in frames <= Options.MaxQueuedMessages
		hb      hbBuffer // Invariant: len <= Options.MaxQueuedHeartbeats
		flushHB bool     // FlushHeartbeats asked for a frame
		// flushRead: FlushReadHeartbeats asked for a frame (a read is
		// waiting on a heartbeat round trip).
		flushRead bool
	}
	// spareFrames and hbSpare are the run goroutine's second buffers;
	// only run touches them.
	spareFrames []*frame
	hbSpare     []raftpb.Message

	stats peerStats
}

// peerStats are per-peer counters, read by Status.
type peerStats struct {
	dropped       atomic.Uint64
	messagesSent  atomic.Uint64
	framesSent    atomic.Uint64
	bytesSent     atomic.Uint64
	bytesReceived atomic.Uint64
}

// frame is one encoded frame handed to fastrpc. fastrpc calls WriteRequest
// from its writer goroutine and then the release func, after which the
// frame is reused.
type frame struct {
	buf    []byte
	nm, nh uint32 // messages and heartbeats encoded in buf
	// forRead: sent early, only because a read waits on its heartbeats
	// (FlushReadHeartbeats), not by the tick.
	forRead bool
}

func (f *frame) WriteRequest(bw *bufio.Writer) error {
	_, err := bw.Write(f.buf)
	return err
}

func newPeer(t *Transport, id raftpb.NodeID) *peer {
	p := &peer{
		t:        t,
		id:       id,
		wake:     make(chan struct{}, 1),
		released: make(chan struct{}, 1),
		free:     make(chan *frame, t.opts.MaxInflightFrames+1),
	}
	p.msg = newLink(p, "raft")
	p.snap = newLink(p, "snapshot")
	p.call = newLink(p, "call")
	return p
}

// enqueueLocked queues m; p.mu is held. ok is false if m was dropped
// (queue full, or too large for any frame); wake is true if the run
// goroutine must be signalled: only when the queue turns non-empty, since
// run keeps taking the queue until it finds it empty, and heartbeats wait
// for FlushHeartbeats or the next message frame anyway.
func (p *peer) enqueueLocked(m *raftpb.Message) (ok, wake bool) {
	if m.Type.IsHeartbeat() {
		return p.mu.hb.add(m, p.t.opts.MaxQueuedHeartbeats), false
	}
	if p.mu.queued >= p.t.opts.MaxQueuedMessages {
		return false, false
	}
	n := len(p.mu.frames)
	if n == 0 {
		p.mu.frames = append(p.mu.frames, p.newFrame())
		n = 1
	}
	f := p.mu.frames[n-1]
	if !p.appendTo(f, m) {
		if f.nm == 0 {
			p.t.dropOversized(m)
			return false, false
		}
		f = p.newFrame()
		p.mu.frames = append(p.mu.frames, f)
		if !p.appendTo(f, m) {
			p.t.dropOversized(m)
			return false, false
		}
	}
	p.mu.queued++
	return true, p.mu.queued == 1
}

// appendTo encodes m into f unless the frame would exceed MaxFrameBytes.
func (p *peer) appendTo(f *frame, m *raftpb.Message) bool {
	mark := len(f.buf)
	f.buf = appendMessage(f.buf, m)
	if len(f.buf) > p.t.opts.MaxFrameBytes+prefixBytes {
		f.buf = f.buf[:mark]
		return false
	}
	f.nm++
	return true
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run is the peer's flush goroutine. The Transport owns it and waits for it
// in Close.
func (p *peer) run() {
	defer p.t.wg.Done()
	for {
		select {
		case <-p.wake:
		case <-p.t.done:
			return
		}
		for p.flushOnce() {
		}
	}
}

// flushOnce waits for room among the in-flight frames, takes everything
// queued and sends it. It reports whether it sent anything.
func (p *peer) flushOnce() bool {
	for p.inflight.Load() >= int32(p.t.opts.MaxInflightFrames) {
		select {
		case <-p.released:
		case <-p.t.done:
			return false
		}
	}
	p.mu.Lock()
	frames := p.mu.frames
	p.mu.frames = p.spareFrames[:0]
	p.mu.queued = 0
	var hbs []raftpb.Message
	if p.mu.flushHB || p.mu.flushRead || (len(frames) > 0 && p.mu.hb.len() > 0) {
		hbs = p.mu.hb.take(p.hbSpare)
	}
	forRead := p.mu.flushRead && !p.mu.flushHB
	p.mu.flushHB, p.mu.flushRead = false, false
	p.mu.Unlock()
	if len(frames) == 0 && len(hbs) == 0 {
		p.spareFrames = frames
		return false
	}
	frames = p.appendHeartbeats(frames, hbs)
	for _, f := range frames {
		f.forRead = forRead
		p.send(f)
	}
	clear(frames)
	p.spareFrames = frames[:0]
	if hbs != nil {
		p.hbSpare = hbs[:0]
	}
	return true
}

// appendHeartbeats adds the coalesced heartbeats to the last frame,
// starting a new frame only if MaxFrameBytes requires it.
func (p *peer) appendHeartbeats(frames []*frame, hbs []raftpb.Message) []*frame {
	if len(hbs) == 0 {
		return frames
	}
	if len(frames) == 0 {
		frames = append(frames, p.newFrame())
	}
	limit := p.t.opts.MaxFrameBytes + prefixBytes
	f := frames[len(frames)-1]
	for i := range hbs {
		mark := len(f.buf)
		f.buf = appendHeartbeat(f.buf, &hbs[i])
		if len(f.buf) > limit {
			f.buf = f.buf[:mark]
			f = p.newFrame()
			frames = append(frames, f)
			f.buf = appendHeartbeat(f.buf, &hbs[i])
		}
		f.nh++
	}
	return frames
}

func (p *peer) newFrame() *frame {
	var f *frame
	select {
	case f = <-p.free:
	default:
		f = &frame{}
	}
	f.buf = beginFrame(f.buf[:0], frameHeader{kind: kindBatch, cluster: p.t.opts.ClusterID, from: p.t.opts.NodeID, to: p.id})
	f.nm, f.nh, f.forRead = 0, 0, false
	return f
}

func (p *peer) recycle(f *frame) {
	if cap(f.buf) > 4*p.t.opts.SnapshotChunkBytes {
		f.buf = nil // do not pin a rare huge buffer
	}
	select {
	case p.free <- f:
	default:
	}
}

// send finishes f and hands it to fastrpc without waiting. If fastrpc's
// queue is full the frame's messages are dropped and counted.
func (p *peer) send(f *frame) {
	finishFrame(f.buf, f.nm, f.nh)
	n, nm, nh := uint64(len(f.buf)), uint64(f.nm), uint64(f.nh)
	p.inflight.Add(1)
	if !p.msg.client.SendNowait(f, p.releaseFrame) {
		p.inflight.Add(-1)
		p.recycle(f)
		p.stats.dropped.Add(nm + nh)
		p.t.m.messagesDropped.Add(nm + nh)
		return
	}
	p.stats.framesSent.Add(1)
	p.stats.messagesSent.Add(nm + nh)
	p.stats.bytesSent.Add(n)
	p.t.m.framesSent.Add(1)
	p.t.m.messagesSent.Add(nm)
	p.t.m.heartbeatsSent.Add(nh)
	p.t.m.bytesSent.Add(n)
	switch {
	case nm > 0:
	case f.forRead:
		p.t.m.readHeartbeatFramesSent.Add(1)
	default:
		p.t.m.heartbeatFramesSent.Add(1)
	}
}

// releaseFrame is fastrpc's release callback: the frame was written (or
// expired) and may be reused.
func (p *peer) releaseFrame(r fastrpc.RequestWriter) {
	p.recycle(r.(*frame))
	p.inflight.Add(-1)
	select {
	case p.released <- struct{}{}:
	default:
	}
}
