package transport

import (
	"bufio"
	"sync"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fastrpc"
)

// peer is everything this node keeps for one remote node: the queue of
// Raft messages and heartbeats waiting for it, the goroutine that turns
// the queue into frames, and the two links (messages, snapshots).
//
// Send appends under mu and wakes run; run takes the whole queue at once,
// so everything queued while the previous frame was being written leaves
// in the next single frame. That is the batching: there is no timer.
type peer struct {
	t    *Transport
	id   raftpb.NodeID
	msg  *link // Raft frames: fastrpc SendNowait
	snap *link // snapshot chunks: fastrpc DoDeadline, its own connection

	wake     chan struct{} // capacity 1: "the queue may be non-empty"
	released chan struct{} // capacity 1: "an in-flight frame was written"
	inflight atomic.Int32  // frames handed to fastrpc, not yet written
	free     chan *frame   // reusable frames

	mu struct {
		sync.Mutex
		msgs    []raftpb.Message // Invariant: len <= Options.MaxQueuedMessages
		hb      hbBuffer         // Invariant: len <= Options.MaxQueuedHeartbeats
		flushHB bool             // FlushHeartbeats asked for a frame
	}
	// spare and hbSpare are the run goroutine's second buffers; only run
	// touches them.
	spare, hbSpare []raftpb.Message

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
	buf []byte
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
	return p
}

// enqueueLocked queues m; p.mu is held. ok is false if m was dropped
// because the queue is full; wake is true if the run goroutine must be
// signalled: only when the message queue turns non-empty, since run keeps
// taking the queue until it finds it empty, and heartbeats wait for
// FlushHeartbeats or the next message frame anyway.
func (p *peer) enqueueLocked(m *raftpb.Message) (ok, wake bool) {
	if m.Type.IsHeartbeat() {
		return p.mu.hb.add(m, p.t.opts.MaxQueuedHeartbeats), false
	}
	if len(p.mu.msgs) >= p.t.opts.MaxQueuedMessages {
		return false, false
	}
	p.mu.msgs = append(p.mu.msgs, *m)
	return true, len(p.mu.msgs) == 1
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
	msgs := p.mu.msgs
	p.mu.msgs = p.spare[:0]
	var hbs []raftpb.Message
	if p.mu.flushHB || (len(msgs) > 0 && p.mu.hb.len() > 0) {
		hbs = p.mu.hb.take(p.hbSpare)
	}
	p.mu.flushHB = false
	p.mu.Unlock()
	if len(msgs) == 0 && len(hbs) == 0 {
		p.spare = msgs
		return false
	}
	p.sendBatch(msgs, hbs)
	clear(msgs) // drop references to entries before reuse
	p.spare = msgs[:0]
	if hbs != nil {
		p.hbSpare = hbs[:0]
	}
	return true
}

// sendBatch encodes msgs then hbs into as few frames as MaxFrameBytes
// allows (one, unless the batch is larger than a frame) and hands each to
// fastrpc.
func (p *peer) sendBatch(msgs, hbs []raftpb.Message) {
	limit := p.t.opts.MaxFrameBytes + prefixBytes
	f := p.newFrame()
	var nm, nh uint32
	flush := func() {
		p.send(f, nm, nh)
		f, nm, nh = p.newFrame(), 0, 0
	}
	for i := range msgs {
		mark := len(f.buf)
		f.buf = appendMessage(f.buf, &msgs[i])
		if len(f.buf) <= limit {
			nm++
			continue
		}
		f.buf = f.buf[:mark]
		if nm > 0 { // retry alone in a fresh frame
			flush()
			mark = len(f.buf)
			f.buf = appendMessage(f.buf, &msgs[i])
			if len(f.buf) <= limit {
				nm++
				continue
			}
			f.buf = f.buf[:mark]
		}
		p.t.dropOversized(p, &msgs[i])
	}
	for i := range hbs {
		mark := len(f.buf)
		f.buf = appendHeartbeat(f.buf, &hbs[i])
		if len(f.buf) > limit {
			f.buf = f.buf[:mark]
			flush()
			f.buf = appendHeartbeat(f.buf, &hbs[i])
		}
		nh++
	}
	if nm+nh > 0 {
		p.send(f, nm, nh)
	} else {
		p.recycle(f)
	}
}

func (p *peer) newFrame() *frame {
	var f *frame
	select {
	case f = <-p.free:
	default:
		f = &frame{}
	}
	f.buf = beginFrame(f.buf[:0], frameHeader{kind: kindBatch, cluster: p.t.opts.ClusterID, from: p.t.opts.NodeID, to: p.id})
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
func (p *peer) send(f *frame, nm, nh uint32) {
	finishFrame(f.buf, nm, nh)
	n := uint64(len(f.buf))
	p.inflight.Add(1)
	if !p.msg.client.SendNowait(f, p.releaseFrame) {
		p.inflight.Add(-1)
		p.recycle(f)
		p.stats.dropped.Add(uint64(nm + nh))
		p.t.m.messagesDropped.Add(uint64(nm + nh))
		return
	}
	p.stats.framesSent.Add(1)
	p.stats.messagesSent.Add(uint64(nm + nh))
	p.stats.bytesSent.Add(n)
	p.t.m.framesSent.Add(1)
	p.t.m.messagesSent.Add(uint64(nm))
	p.t.m.heartbeatsSent.Add(uint64(nh))
	p.t.m.bytesSent.Add(n)
	if nm == 0 {
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
