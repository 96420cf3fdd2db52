package transport

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSendNeverBlocksAndDropsWhenFull sends far more than the queue holds
// to a peer that is down: Send must return promptly, the excess must be
// dropped and counted, and status must show the failure.
func TestSendNeverBlocksAndDropsWhenFull(t *testing.T) {
	var unreachable atomic.Int32
	c := newCluster(t, 1, func(o *Options) {
		o.MaxQueuedMessages = 100
		o.Events.PeerUnreachable = func(raftpb.NodeID, error) { unreachable.Add(1) }
	})
	a := c.nodes[1]
	c.res.Set(2, deadAddr(t))
	start := time.Now()
	const n = 100000
	for i := 0; i < n; i++ {
		a.Send(msgApp(1, 1, 2, raftpb.Index(i), 100))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Send of %d messages to a dead peer took %v", n, d)
	}
	waitFor(t, "dial failure in status", 10*time.Second, func() bool {
		st := a.Status()
		return len(st) == 1 && st[0].LastError != "" && !st[0].Connected
	})
	st := a.Status()[0]
	if st.Dropped < n-uint64(100*(1+DefaultMaxInflightFrames)) || st.Queued > 100 {
		t.Fatalf("status %+v: want most of %d dropped and at most 100 queued", st, n)
	}
	if m := a.Metrics(); m.MessagesDropped != st.Dropped || m.DialFailures == 0 || unreachable.Load() == 0 {
		t.Fatalf("metrics %+v vs status %+v", m, st)
	}
}

// TestReconnectsAfterPeerRestart closes the receiver, lets the sender fail,
// then starts a new receiver at a new address (the resolver learns it):
// messages flow again and status recovers.
func TestReconnectsAfterPeerRestart(t *testing.T) {
	c := newCluster(t, 2, nil)
	a := c.nodes[1]
	a.Send(msgApp(1, 1, 2, 1, 10))
	waitFor(t, "first message", 5*time.Second, func() bool { return c.recs[2].count() == 1 })
	c.nodes[2].Close()
	waitFor(t, "disconnect noticed", 5*time.Second, func() bool { return !a.Status()[0].Connected })
	// Keep sending while down: nothing blocks, the link notices.
	for i := 0; i < 10; i++ {
		a.Send(msgApp(1, 1, 2, raftpb.Index(10+i), 10))
	}
	waitFor(t, "failure recorded", 10*time.Second, func() bool { return a.Status()[0].LastError != "" })
	rec := newRecorder()
	b2, err := New(Options{NodeID: 2, ClusterID: 7, ListenAddr: "127.0.0.1:0", Resolver: c.res, Logger: quietLogger()}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	c.res.Set(2, b2.Addr().String())
	waitFor(t, "messages after reconnect", 20*time.Second, func() bool {
		a.Send(msgApp(1, 1, 2, 100, 10))
		return rec.count() > 0
	})
	waitFor(t, "status connected", 5*time.Second, func() bool {
		st := a.Status()[0]
		return st.Connected && st.LastError == ""
	})
}

func TestBackoffDoublesCapsAndJitters(t *testing.T) {
	c := newCluster(t, 1, func(o *Options) { o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, 800*time.Millisecond })
	p := c.nodes[1].peer(2)
	for i := 0; i < 8; i++ {
		before := time.Now()
		p.msg.failed(errors.New("boom"))
		p.msg.mu.Lock()
		b, wait := p.msg.mu.backoff, p.msg.mu.nextDial.Sub(before)
		p.msg.mu.Unlock()
		want := min(100*time.Millisecond<<i, 800*time.Millisecond)
		if b != want {
			t.Fatalf("failure %d: backoff %v, want %v", i, b, want)
		}
		if wait < b/2 || wait > b+time.Millisecond {
			t.Fatalf("failure %d: next dial in %v, want within [%v, %v)", i, wait, b/2, b)
		}
	}
	p.msg.up()
	if p.msg.mu.backoff != 0 {
		t.Fatal("backoff not reset by a successful handshake")
	}
}

// TestClusterMismatchRefused: a node of another cluster cannot deliver.
func TestClusterMismatchRefused(t *testing.T) {
	var rejected atomic.Int32
	c := newCluster(t, 1, func(o *Options) {
		o.NodeID = 2
		o.Events.FrameRejected = func(string, error) { rejected.Add(1) }
	})
	b := c.nodes[1] // node ID 2
	c.res.Set(2, b.Addr().String())
	other, err := New(Options{NodeID: 1, ClusterID: 99, ListenAddr: "127.0.0.1:0", Resolver: c.res, Logger: quietLogger()}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.Send(msgApp(1, 1, 2, 1, 10))
	waitFor(t, "mismatch counted", 5*time.Second, func() bool { return b.Metrics().ClusterMismatches > 0 })
	if n := c.recs[1].count(); n != 0 {
		t.Fatalf("%d messages from another cluster were delivered", n)
	}
	if m := b.Metrics(); m.FramesRejected == 0 || rejected.Load() == 0 {
		t.Fatalf("metrics %+v, %d FrameRejected events", m, rejected.Load())
	}
}

// TestCloseStopsEverything: after Close no goroutine of this package runs,
// every connection is closed (the peer sees EOF), and calls are harmless.
func TestCloseStopsEverything(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, b := c.nodes[1], c.nodes[2]
	a.Send(msgApp(1, 1, 2, 1, 10))
	b.Send(msgApp(1, 2, 1, 1, 10))
	waitFor(t, "traffic", 5*time.Second, func() bool { return c.recs[1].count() == 1 && c.recs[2].count() == 1 })
	a.Close()
	b.Close()
	a.Close() // idempotent
	a.Send(msgApp(1, 1, 2, 2, 10))
	a.FlushHeartbeats()
	waitFor(t, "goroutines gone", 10*time.Second, func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "flotilla/transport.") && !strings.Contains(g, "transport.TestCloseStopsEverything") && !strings.Contains(g, "testing.tRunner") ||
				strings.Contains(g, "fastrpc.(*Server).serveConn") || strings.Contains(g, "fastrpc.(*Client).serveConn") {
				return false
			}
		}
		return true
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mu.conns) != 0 {
		t.Fatalf("%d connections still tracked", len(a.mu.conns))
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{NodeID: 1, ClusterID: 1, ListenAddr: "127.0.0.1:0", Resolver: &StaticResolver{}}
	good.EnsureDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.MaxFrameBytes != DefaultMaxFrameBytes || good.SnapshotChunkBytes != DefaultSnapshotChunkBytes || good.Logger == nil {
		t.Fatalf("defaults not applied: %s", good.String())
	}
	for name, mut := range map[string]func(*Options){
		"no node":     func(o *Options) { o.NodeID = 0 },
		"no cluster":  func(o *Options) { o.ClusterID = 0 },
		"no resolver": func(o *Options) { o.Resolver = nil },
		"tiny frame":  func(o *Options) { o.MaxFrameBytes = 100 },
		"big chunk":   func(o *Options) { o.SnapshotChunkBytes = o.MaxFrameBytes },
		"backoff":     func(o *Options) { o.MaxBackoff = o.MinBackoff / 2 },
		"tls files":   func(o *Options) { o.TLS = &TLSOptions{CertFile: "x"} },
	} {
		o := good
		mut(&o)
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
