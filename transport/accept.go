package transport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// sniffTimeout bounds the wait for a new connection's first bytes (and,
// with TLS, its TLS handshake); fastrpc's own handshake uses 3 s too.
const sniffTimeout = 3 * time.Second

// acceptRetry is the pause after a failed Accept (fastrpc paused 1 s).
const acceptRetry = 100 * time.Millisecond

// demux owns the node's one listening port. Every accepted connection is
// tracked (so Close can close it), wrapped in TLS when configured, and
// handed to the fastrpc server its handshake names: the message server
// (sniffHeader: Raft frames and snapshot chunks) or the call server
// (callSniffHeader: Calls). Both headers have the same length, so reading
// that many bytes decides; the bytes are then replayed to fastrpc, which
// performs its handshake as if nothing had read them.
//
// One port keeps the Resolver and the operators' view unchanged (a node
// has one transport address); two fastrpc servers are needed because the
// message server must run requests in order on the reader goroutine and
// the call server must not (see Transport.Call).
type demux struct {
	t     *Transport
	ln    net.Listener // the TCP listener
	msgs  *chanListener
	calls *chanListener
}

func newDemux(t *Transport, ln net.Listener) *demux {
	return &demux{t: t, ln: ln,
		msgs:  &chanListener{addr: ln.Addr(), ch: make(chan net.Conn), done: t.done},
		calls: &chanListener{addr: ln.Addr(), ch: make(chan net.Conn), done: t.done}}
}

// run is the accept loop. The Transport owns it; it ends when Close
// closes the TCP listener.
func (d *demux) run() {
	t := d.t
	defer t.wg.Done()
	for {
		raw, err := d.ln.Accept()
		if err != nil {
			if t.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			t.log.Error("transport: accept failed", "err", err)
			if t.sleep(t.ctx, acceptRetry) != nil {
				return
			}
			continue
		}
		c := &conn{Conn: raw, raw: raw, t: t}
		c.inbound = &inbound{t: t, c: c}
		if t.tlsServer != nil {
			c.Conn = tls.Server(raw, t.tlsServer)
		}
		if !t.track(c) {
			c.Close()
			continue
		}
		t.wg.Add(1) // NB: legal during Close's Wait: run itself still counts
		go d.route(c)
	}
}

// route reads c's sniff header and hands c to the matching server.
func (d *demux) route(c *conn) {
	t := d.t
	defer t.wg.Done()
	hdr := make([]byte, len(sniffHeader))
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	_, err := io.ReadFull(c, hdr)
	_ = c.SetReadDeadline(time.Time{})
	var to *chanListener
	switch {
	case err != nil:
	case bytes.Equal(hdr, []byte(sniffHeader)):
		to = d.msgs
	case bytes.Equal(hdr, []byte(callSniffHeader)):
		to = d.calls
	}
	if to == nil {
		if !t.isClosed() {
			t.log.Warn("transport: connection closed before its handshake", "remote", c.RemoteAddr().String(), "header", hdr, "err", err)
		}
		c.Close()
		return
	}
	c.replay = hdr
	select {
	case to.ch <- c:
	case <-t.done:
		c.Close()
	}
}

// chanListener is the net.Listener one fastrpc server serves: it yields
// the connections the demux routes to it and ends when the transport
// closes.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done <-chan struct{}
}

// Accept implements net.Listener. After Close it returns net.ErrClosed,
// which fastrpc's Serve treats as a normal end.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; the transport's done channel ends it.
func (l *chanListener) Close() error { return nil }

// Addr implements net.Listener.
func (l *chanListener) Addr() net.Addr { return l.addr }
