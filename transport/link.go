package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/valyala/fastrpc"
)

// link is one fastrpc client (one TCP connection at a time) to a peer. It
// owns the dial policy: address from the Resolver at every dial, TLS, and
// a capped exponential backoff with jitter between failed dials.
//
// fastrpc dials lazily (on the first request after a connection is lost)
// and calls link.dial from its worker goroutine; blocking there for the
// backoff blocks nobody else.
type link struct {
	p      *peer
	name   string
	client *fastrpc.Client

	connected atomic.Bool
	mu        struct {
		sync.Mutex
		backoff  time.Duration // Invariant: 0 or within [MinBackoff, MaxBackoff]
		nextDial time.Time
		lastErr  error
		conn     *conn
	}
}

func newLink(p *peer, name string) *link {
	l := &link{p: p, name: name}
	l.client = &fastrpc.Client{
		SniffHeader:        sniffHeader,
		ProtocolVersion:    fastrpcProtocolVersion,
		NewResponse:        func() fastrpc.ResponseReader { return &chunkAck{} },
		Addr:               fmt.Sprintf("node-%d", p.id), // resolved in dial
		CompressType:       fastrpc.CompressNone,
		Dial:               l.dial,
		MaxPendingRequests: p.t.opts.MaxInflightFrames + 16,
		ReadBufferSize:     64 << 10,
		WriteBufferSize:    64 << 10,
	}
	if name == "call" {
		// Calls have their own server on the callee (see Transport.Call),
		// which the sniff header selects.
		l.client.SniffHeader = callSniffHeader
		l.client.NewResponse = func() fastrpc.ResponseReader { return &callReply{t: p.t, peer: p.id} }
		l.client.MaxPendingRequests = p.t.opts.MaxInflightCalls + 1
	}
	if name == "snapshot" {
		// NB: fastrpc registers a request as awaiting its response only
		// after WriteRequest returns. A request larger than the write
		// buffer goes to the socket during WriteRequest, so a fast server
		// can answer before the registration and fastrpc then drops the
		// response: the call hangs until its deadline (seen in tests as
		// "fasthttp: timeout" on large chunks). A buffer that holds a
		// whole chunk frame keeps the request's tail unsent until it is
		// registered.
		l.client.WriteBufferSize = maxChunkFrameBytes(p.t.opts.SnapshotChunkBytes)
	}
	return l
}

// maxChunkFrameBytes bounds a snapshot chunk frame: the compressed chunk
// plus room for the header and the first chunk's snapshot metadata.
func maxChunkFrameBytes(chunkBytes int) int {
	return s2.MaxEncodedLen(chunkBytes) + 64<<10
}

// dial is fastrpc.Client.Dial. It waits out the backoff, resolves the
// peer, dials TCP (and wraps it in TLS) and records the connection so
// Close can close it.
func (l *link) dial(string) (net.Conn, error) {
	t := l.p.t
	l.mu.Lock()
	wait := time.Until(l.mu.nextDial)
	l.mu.Unlock()
	if wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-t.done:
			timer.Stop()
			return nil, ErrClosed
		}
	}
	if t.isClosed() {
		return nil, ErrClosed
	}
	addr, err := t.opts.Resolver.Resolve(l.p.id)
	if err == nil && addr == "" {
		err = ErrUnknownPeer
	}
	var raw net.Conn
	if err == nil {
		d := net.Dialer{Timeout: t.opts.DialTimeout}
		raw, err = d.DialContext(t.ctx, "tcp", addr)
	}
	t.m.dials.Add(1)
	if err != nil {
		err = fmt.Errorf("transport: dial node %d (%s): %w", l.p.id, l.name, err)
		l.failed(err)
		return nil, err
	}
	c := &conn{Conn: raw, raw: raw, t: t, link: l}
	if t.tlsClient != nil {
		cfg := t.tlsClient.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		c.Conn = tls.Client(raw, cfg)
	}
	if !t.track(c) {
		raw.Close()
		return nil, ErrClosed
	}
	l.mu.Lock()
	l.mu.conn = c
	l.mu.Unlock()
	return c, nil
}

// failed records a failed dial or a broken connection and lengthens the
// backoff: doubled, capped at MaxBackoff, then jittered into [b/2, b).
func (l *link) failed(err error) {
	t := l.p.t
	t.m.dialFailures.Add(1)
	l.mu.Lock()
	b := l.mu.backoff * 2
	b = max(b, t.opts.MinBackoff)
	b = min(b, t.opts.MaxBackoff)
	l.mu.backoff = b
	l.mu.nextDial = time.Now().Add(b/2 + time.Duration(t.jitter(uint64(b/2)+1)))
	l.mu.lastErr = err
	l.mu.Unlock()
	if !t.isClosed() {
		t.log.Warn("transport: peer unreachable", "peer", l.p.id, "link", l.name, "err", err)
		if f := t.opts.Events.PeerUnreachable; f != nil {
			f(l.p.id, err)
		}
	}
}

// up is called on the first byte read from a new connection: the fastrpc
// (and TLS) handshake succeeded, so the backoff resets.
func (l *link) up() {
	l.mu.Lock()
	l.mu.backoff = 0
	l.mu.nextDial = time.Time{}
	l.mu.lastErr = nil
	l.mu.Unlock()
	l.connected.Store(true)
	if f := l.p.t.opts.Events.PeerConnected; f != nil && l.name == "raft" {
		f(l.p.id)
	}
}

// down is called once when a connection of this link closes.
func (l *link) down(c *conn, err error) {
	l.mu.Lock()
	if l.mu.conn == c {
		l.mu.conn = nil
	}
	l.mu.Unlock()
	l.connected.Store(false)
	if err == nil {
		err = errors.New("transport: connection closed")
	}
	if !c.gotData.Load() {
		l.failed(fmt.Errorf("transport: handshake with node %d (%s) failed: %w", l.p.id, l.name, err))
		return
	}
	l.mu.Lock()
	l.mu.lastErr = err
	l.mu.Unlock()
	if !l.p.t.isClosed() {
		if f := l.p.t.opts.Events.PeerUnreachable; f != nil {
			f(l.p.id, err)
		}
	}
}

func (l *link) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.lastErr == nil {
		return ""
	}
	return l.mu.lastErr.Error()
}

// conn wraps every connection the transport makes or accepts, so that
// Close can close it (fastrpc has no Close) and so that link state follows
// the connection's life.
type conn struct {
	net.Conn          // what fastrpc reads and writes: TLS over raw, or raw
	raw      net.Conn // the TCP connection; closing it ends everything
	t        *Transport
	link     *link    // dialed connections only
	inbound  *inbound // accepted connections only
	gotData  atomic.Bool
	closed   atomic.Bool
	// replay holds the sniff header the demux read from an accepted
	// connection; Read returns it first. Set before the connection is
	// handed to fastrpc, then read only by fastrpc's reader.
	replay []byte
	errMu  sync.Mutex
	err    error // first I/O error
}

func (c *conn) Read(b []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(b, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.gotData.Load() && c.gotData.CompareAndSwap(false, true) && c.link != nil {
		c.link.up()
	}
	if err != nil {
		c.noteErr(err)
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.noteErr(err)
	}
	return n, err
}

func (c *conn) noteErr(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
}

// Close closes the TCP connection (never waiting on a TLS close alert) and
// updates the owner's state exactly once.
func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.raw.Close()
	c.t.untrack(c)
	c.errMu.Lock()
	ioErr := c.err
	c.errMu.Unlock()
	if c.link != nil {
		c.link.down(c, ioErr)
	}
	if c.inbound != nil {
		c.inbound.closed()
	}
	return err
}
