package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/flotilladb/flotilla/shard"
)

// readHeaderTimeout bounds how long an HTTP client may take to send its
// request headers (slowloris protection).
const readHeaderTimeout = 10 * time.Second

// Server serves one node store over RESP and HTTP. It is safe for
// concurrent use.
type Server struct {
	opts    Options
	store   *shard.Store
	cmds    map[string]*command
	cursors *cursorTable
	m       serverCounters

	// ctx is the parent of every request's context; cancel ends the
	// requests in flight at Close.
	ctx    context.Context
	cancel context.CancelFunc

	respLn  net.Listener
	resp    *redcon.Server
	httpLn  net.Listener
	httpSrv *http.Server
	// httpConns tracks the HTTP connections' states for Close.
	httpConns struct {
		sync.Mutex
		m map[net.Conn]http.ConnState
	}
	conns    sync.WaitGroup // one per RESP connection, done in redcon's closed callback
	serving  sync.WaitGroup // the RESP and HTTP accept loops
	closeMu  sync.Mutex
	isClosed bool
}

// New listens on Options.ClientAddr and Options.HTTPAddr and starts
// serving. Close stops it.
func New(opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	lns, err := listen(&opts)
	if err != nil {
		return nil, err
	}
	s, err := serve(opts, lns)
	if err != nil {
		lns.close()
	}
	return s, err
}

// listeners are the bound RESP and HTTP ports of a server not yet serving.
type listeners struct{ resp, http net.Listener }

// listen binds opts.ClientAddr and opts.HTTPAddr.
func listen(opts *Options) (*listeners, error) {
	resp, err := net.Listen("tcp", opts.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("server: RESP listen on %s: %w", opts.ClientAddr, err)
	}
	http, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		_ = resp.Close()
		return nil, fmt.Errorf("server: HTTP listen on %s: %w", opts.HTTPAddr, err)
	}
	return &listeners{resp: resp, http: http}, nil
}

func (l *listeners) close() {
	_ = l.resp.Close()
	_ = l.http.Close()
}

// serve starts serving on lns; on error the caller closes lns.
func serve(opts Options, lns *listeners) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, store: opts.Store, cursors: newCursorTable(opts.MaxCursors)}
	s.cmds = commandTable()
	s.m.started.Store(time.Now().UnixNano())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.respLn, s.httpLn = lns.resp, lns.http
	s.startRESP()
	s.startHTTP()
	opts.Logger.Info("server: serving",
		"resp", s.ClientAddr(), "http", s.HTTPAddr(), "options", opts.String())
	return s, nil
}

// ClientAddr is the address the RESP listener is bound to.
func (s *Server) ClientAddr() string { return s.respLn.Addr().String() }

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Options returns the server's effective options.
func (s *Server) Options() Options { return s.opts }

func (s *Server) startRESP() {
	s.resp = redcon.NewServer(s.opts.ClientAddr, s.serveCommand, s.accept, s.connClosed)
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		ln := &guardListener{Listener: s.respLn,
			lim:      respLimits{maxBulk: s.opts.MaxBulkBytes, maxRequest: s.opts.MaxRequestBytes},
			rejected: func() { s.m.errors.Add(1); s.m.protocolErrors.Add(1) }}
		if err := s.resp.Serve(ln); err != nil && !s.closed() {
			s.opts.Logger.Error("server: RESP listener stopped", "err", err)
		}
	}()
}

func (s *Server) startHTTP() {
	s.httpConns.m = make(map[net.Conn]http.ConnState)
	s.httpSrv = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: readHeaderTimeout,
		BaseContext: func(net.Listener) context.Context { return s.ctx },
		ConnState:   s.trackHTTPConn}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.closed() {
			s.opts.Logger.Error("server: HTTP listener stopped", "err", err)
		}
	}()
}

// Close stops accepting, cancels the requests in flight, closes every
// client connection and returns once every goroutine the server started
// (and every connection handler) is gone. It does not close the store.
func (s *Server) Close() error {
	s.closeMu.Lock()
	if s.isClosed {
		s.closeMu.Unlock()
		return nil
	}
	s.isClosed = true
	s.closeMu.Unlock()
	s.cancel()
	// NB: redcon's Close closes the listener; its accept loop then closes
	// every connection, and each connection's goroutine ends with the
	// closed callback, which s.conns waits for.
	// redcon's Close fails with "not serving" if its accept loop has not
	// started yet; closing the listener ourselves stops the loop either way.
	_ = s.resp.Close()
	errResp := s.respLn.Close()
	if errors.Is(errResp, net.ErrClosed) {
		errResp = nil
	}
	errHTTP := s.shutdownHTTP()
	s.serving.Wait()
	s.conns.Wait()
	return errors.Join(errResp, errHTTP)
}

// closed reports whether Close has begun.
func (s *Server) closed() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.isClosed
}

func (s *Server) trackHTTPConn(c net.Conn, st http.ConnState) {
	s.httpConns.Lock()
	defer s.httpConns.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(s.httpConns.m, c)
		return
	}
	s.httpConns.m[c] = st
}

// shutdownHTTP stops the HTTP server: no new connections, requests in
// flight (already cancelled through s.ctx) finish, then every connection
// closes.
//
// NB: http.Server.Shutdown waits up to 5s for connections that were
// accepted but have not sent a request yet (a client that just dialed,
// say). Closing the listener first and then those
// connections lets Shutdown return as soon as the handlers have.
func (s *Server) shutdownHTTP() error {
	err := s.httpLn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.httpConns.Lock()
	for c, st := range s.httpConns.m {
		if st == http.StateNew {
			_ = c.Close()
		}
	}
	s.httpConns.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if serr := s.httpSrv.Shutdown(ctx); serr != nil && !errors.Is(serr, net.ErrClosed) {
		err = errors.Join(err, serr)
		_ = s.httpSrv.Close()
	}
	return err
}
