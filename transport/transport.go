package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fastrpc"
)

// Handler receives what peers send. The store implements it.
type Handler interface {
	// HandleMessages receives the messages of one frame (coalesced
	// heartbeats included, expanded into Messages) in the order they were
	// sent. It is called on the connection's reader goroutine and must
	// not block: queue the messages and return.
	//
	// Ownership: the batch slice is valid only during the call; the
	// transport clears and reuses it for the next frame, so the callee
	// must copy the Message values it keeps (append(q, batch...) does).
	// What the messages point to (Entries, their Data, Snapshot) is never
	// reused: it belongs to the callee, which may keep it as long as it
	// likes.
	HandleMessages(batch []raftpb.Message)
	// HandleSnapshot installs a snapshot whose stream has been fully
	// received and verified (size and CRC32C). msg is the MsgSnap (with
	// metadata, no Data); data yields exactly the snapshot's bytes and is
	// valid only during the call. A nil return acknowledges the install to
	// the sender; an error is reported to it as a rejection. It may block
	// (it runs on the snapshot connection's goroutine); ctx ends on Close.
	HandleSnapshot(ctx context.Context, msg raftpb.Message, data io.Reader) error
}

// Sender is what the store uses to reach other nodes. *Transport (TCP)
// and *MemTransport (in-memory, for tests) implement it.
type Sender interface {
	Send(msgs ...raftpb.Message)
	FlushHeartbeats()
	FlushReadHeartbeats()
	SendSnapshot(ctx context.Context, msg raftpb.Message, src SnapshotSource) error
}

var (
	_ Sender = (*Transport)(nil)
	_ Sender = (*MemTransport)(nil)
)

// Transport is a node's fastrpc-based transport. It is safe for
// concurrent use.
type Transport struct {
	opts    Options
	handler Handler
	log     *slog.Logger

	ln        net.Listener // TCP; the demux routes its connections
	demux     *demux
	server    *fastrpc.Server // Raft frames and snapshot chunks, pipelined
	calls     *fastrpc.Server // Calls, a goroutine per request
	tlsServer *tls.Config
	tlsClient *tls.Config
	limiter   *rateLimiter
	recv      *receiver

	ctx        context.Context // canceled by Close
	cancel     context.CancelFunc
	done       chan struct{} // closed by Close
	closeOnce  sync.Once
	wg         sync.WaitGroup // run goroutines of peers and the server
	nextStream atomic.Uint64

	// peers is copy-on-write: Send and the frame handler look peers up
	// on every call without a lock (an RWMutex's shared counter was 5% of
	// the small-message CPU, bounced between sender and receiver cores);
	// a new map replaces it, under mu, when a peer is added.
	peers atomic.Pointer[map[raftpb.NodeID]*peer]
	mu    struct {
		sync.RWMutex
		conns  map[*conn]struct{}
		closed bool
	}
	rngMu sync.Mutex
	rng   *rand.Rand
	m     metrics
}

// New starts a transport listening on opts.ListenAddr. It copies opts and
// applies defaults. Peers are dialed lazily, on the first message.
func New(opts Options, h Handler) (*Transport, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidOptions)
	}
	t := &Transport{opts: opts, handler: h, log: opts.Logger.With("node", opts.NodeID)}
	t.rng = rand.New(rand.NewPCG(opts.Seed, uint64(opts.NodeID)))
	t.limiter = newRateLimiter(opts.SnapshotBytesPerSec, 2*opts.SnapshotChunkBytes)
	t.recv = &receiver{t: t}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.done = make(chan struct{})
	t.peers.Store(&map[raftpb.NodeID]*peer{})
	t.mu.conns = make(map[*conn]struct{})
	if opts.TLS != nil {
		var err error
		if t.tlsServer, t.tlsClient, err = tlsConfigs(opts.TLS); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", opts.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on %s: %w", opts.ListenAddr, err)
	}
	t.ln = ln
	t.demux = newDemux(t, ln)
	t.server, t.calls = t.newServer(), t.newCallServer()
	t.wg.Add(3)
	go t.demux.run()
	go t.runServer(t.server, t.demux.msgs)
	go t.runServer(t.calls, t.demux.calls)
	return t, nil
}

// runServer runs one fastrpc server until Close. The Transport owns it.
func (t *Transport) runServer(s *fastrpc.Server, ln net.Listener) {
	defer t.wg.Done()
	if err := s.Serve(ln); err != nil && !t.isClosed() {
		t.log.Error("transport: server stopped", "err", err)
	}
}

// Addr is the address the transport listens on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Options returns the effective options.
func (t *Transport) Options() Options { return t.opts }

// Send queues msgs for their destinations (msg.To) and returns at once; it
// never blocks on the network. Heartbeat-type messages are coalesced per
// peer and leave at the next FlushHeartbeats (or with the next message
// frame to that peer); other messages leave in the peer's next frame.
// Messages for a peer whose queue is full, larger than MaxFrameBytes, to
// this node or to node 0 are dropped and counted: Raft tolerates loss.
// Send encodes each message before returning, so the caller may reuse the
// messages, their entries and data at once. From is always this node.
func (t *Transport) Send(msgs ...raftpb.Message) {
	var p *peer
	wake := false
	release := func() {
		p.mu.Unlock()
		if wake {
			p.signal()
		}
		wake = false
	}
	for i := range msgs {
		m := &msgs[i]
		if m.To == raftpb.None || m.To == t.opts.NodeID || m.Type < 1 || m.Type > raftpb.MaxMessageType {
			t.m.messagesDropped.Add(1)
			continue
		}
		if p == nil || p.id != m.To {
			if p != nil {
				release()
			}
			if p = t.peer(m.To); p == nil {
				return // closed
			}
			p.mu.Lock()
		}
		ok, w := p.enqueueLocked(m)
		wake = wake || w
		if !ok {
			p.stats.dropped.Add(1)
			t.m.messagesDropped.Add(1)
		}
	}
	if p != nil {
		release()
	}
}

// FlushHeartbeats sends, to every peer with heartbeats queued, one frame
// carrying all of them. The store's ticker calls it once per tick, which
// makes heartbeat frames per peer pair per second equal ticks per second,
// whatever the number of groups.
func (t *Transport) FlushHeartbeats() { t.flushHeartbeats(false) }

// FlushReadHeartbeats is FlushHeartbeats for a round that queued the
// heartbeats of a new read round: a linearizable read waits on their round
// trip, so they leave now rather than at the next tick. Its frames are
// counted apart (Metrics.ReadHeartbeatFramesSent).
func (t *Transport) FlushReadHeartbeats() { t.flushHeartbeats(true) }

func (t *Transport) flushHeartbeats(read bool) {
	for _, p := range *t.peers.Load() {
		p.mu.Lock()
		pending := p.mu.hb.len() > 0
		if read {
			p.mu.flushRead = p.mu.flushRead || pending
		} else {
			p.mu.flushHB = pending
		}
		p.mu.Unlock()
		if pending {
			p.signal()
		}
	}
}

// Status reports every known peer, ordered by node ID.
func (t *Transport) Status() []PeerStatus {
	peers := *t.peers.Load()
	out := make([]PeerStatus, 0, len(peers))
	for _, p := range peers {
		out = append(out, p.status())
	}
	slices.SortFunc(out, func(a, b PeerStatus) int { return cmpNode(a.Node, b.Node) })
	return out
}

// Metrics returns a snapshot of the transport's counters.
func (t *Transport) Metrics() Metrics { return t.m.snapshot() }

// Close stops the transport: it stops accepting, closes every connection
// it made or accepted, stops every goroutine it started and waits for them.
// Queued messages are dropped. NB: each fastrpc.Client leaves two parked
// goroutines that fastrpc gives no way to stop (see doc.go); they hold no
// connection and no memory of ours. Close is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.mu.closed = true
		conns := make([]*conn, 0, len(t.mu.conns))
		for c := range t.mu.conns {
			conns = append(conns, c)
		}
		t.mu.Unlock()
		close(t.done)
		t.cancel()
		t.ln.Close()
		for _, c := range conns {
			c.Close()
		}
		t.wg.Wait()
	})
	return nil
}

func (t *Transport) isClosed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// peer returns the peer for id, creating it (and starting its flush
// goroutine) on first use; nil once closed.
func (t *Transport) peer(id raftpb.NodeID) *peer {
	if p := (*t.peers.Load())[id]; p != nil {
		return p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return nil
	}
	old := *t.peers.Load()
	if p := old[id]; p != nil {
		return p
	}
	p := newPeer(t, id)
	peers := make(map[raftpb.NodeID]*peer, len(old)+1)
	maps.Copy(peers, old)
	peers[id] = p
	t.peers.Store(&peers)
	t.wg.Add(1)
	go p.run()
	return p
}

func (t *Transport) existingPeer(id raftpb.NodeID) *peer {
	return (*t.peers.Load())[id]
}

// track records c so Close can close it; false if already closed.
func (t *Transport) track(c *conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return false
	}
	t.mu.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c *conn) {
	t.mu.Lock()
	delete(t.mu.conns, c)
	t.mu.Unlock()
}

// jitter returns a pseudo-random value in [0, n).
func (t *Transport) jitter(n uint64) uint64 {
	t.rngMu.Lock()
	defer t.rngMu.Unlock()
	return t.rng.Uint64N(n)
}

// sleep waits d, or returns early with ctx's error or ErrClosed.
func (t *Transport) sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.done:
		return ErrClosed
	}
}

// dropOversized logs a message dropped because it cannot fit in any
// frame (the caller counts it).
func (t *Transport) dropOversized(m *raftpb.Message) {
	t.log.Error("transport: message larger than MaxFrameBytes dropped", "msg", m.String(), "max", t.opts.MaxFrameBytes)
}

func cmpNode(a, b raftpb.NodeID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
