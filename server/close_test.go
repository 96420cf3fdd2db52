package server

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// TestCloseStopsEveryGoroutine opens a node, uses its RESP and HTTP
// ports, closes it, and checks the goroutine count returns to where it
// was (after a first node has started any process-wide goroutines its
// libraries start lazily).
func TestCloseStopsEveryGoroutine(t *testing.T) {
	warm := openSingle(t, nil)
	exercise(t, warm)
	must(t, warm.Close())
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()

	n := openSingle(t, nil)
	exercise(t, n)
	c := newClient(t, n, "")
	must(t, c.Ping(context.Background()).Err()) // left open: Close must end it
	must(t, n.Close())
	http.DefaultClient.CloseIdleConnections()
	_ = c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func exercise(t *testing.T, n *Node) {
	t.Helper()
	c := newClient(t, n, "")
	must(t, c.Set(context.Background(), "k0001", "v", 0).Err())
	_ = c.Close()
	if code, _ := httpDo(t, "GET", "http://"+n.Server.HTTPAddr()+"/api/status", ""); code != 200 {
		t.Fatalf("status %d", code)
	}
}

// TestCloseRightAfterNew closes a server before its accept loops have
// necessarily started.
func TestCloseRightAfterNew(t *testing.T) {
	n := openSingle(t, nil)
	for i := 0; i < 20; i++ {
		s, err := New(Options{Store: n.Store, ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		must(t, err)
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Close hung")
		}
	}
}

// TestCloseWithSilentHTTPConn: a connection that was accepted but sent
// nothing (as a peer's forwarding client right after dialing) must not
// hold Close up.
func TestCloseWithSilentHTTPConn(t *testing.T) {
	n := openSingle(t, nil)
	s, err := New(Options{Store: n.Store, ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 20 * time.Second})
	must(t, err)
	conn, err := net.Dial("tcp", s.HTTPAddr())
	must(t, err)
	defer conn.Close()
	// Wait until the server has accepted it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.httpConns.Lock()
		k := len(s.httpConns.m)
		s.httpConns.Unlock()
		if k == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection not accepted")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	must(t, s.Close())
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a silent connection open", d)
	}
}
