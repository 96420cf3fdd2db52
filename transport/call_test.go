package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestCallRoundTrip: small and large requests (larger than fastrpc's
// write buffer, the case its answer-before-registration race hits) come
// back answered, from many goroutines at once, and are counted.
func TestCallRoundTrip(t *testing.T) {
	c := newCluster(t, 2, nil)
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	sizes := []int{0, 1, 100, 64 << 10, 300 << 10}
	var wg sync.WaitGroup
	errs := make(chan error, 16*len(sizes))
	for g := 0; g < 16; g++ {
		reqs := make([][]byte, len(sizes))
		for i, n := range sizes {
			reqs[i] = make([]byte, n)
			for j := range reqs[i] {
				reqs[i][j] = byte(rng.Uint32())
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, req := range reqs {
				out, err := c.nodes[1].Call(t.Context(), 2, req)
				if err != nil {
					errs <- err
					continue
				}
				if want := append([]byte("echo from 1: "), req...); !bytes.Equal(out, want) {
					errs <- fmt.Errorf("answer of %d bytes, want %d", len(out), len(want))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := uint64(16 * len(sizes))
	if m := c.nodes[1].Metrics(); m.CallsSent != n || m.CallsFailed != 0 {
		t.Errorf("caller metrics %+v", m)
	}
	if m := c.nodes[2].Metrics(); m.CallsServed != n || m.CallsActive != 0 {
		t.Errorf("callee metrics %+v", m)
	}
	if st := c.nodes[1].Status()[0]; !st.CallConnected {
		t.Errorf("status %+v", st)
	}
}

// TestCallBlockingHandlerDelaysNothing: while MaxConcurrentCalls-1
// handlers block, Raft messages and heartbeats still arrive and another
// Call on the same connection is answered; one Call beyond the cap is
// refused without running.
func TestCallBlockingHandlerDelaysNothing(t *testing.T) {
	const limit = 8
	c := newCluster(t, 2, func(o *Options) { o.MaxConcurrentCalls = limit })
	release := make(chan struct{})
	c.recs[2].setCallFn(func(ctx context.Context, _ raftpb.NodeID, req []byte) []byte {
		if string(req) == "block" {
			select {
			case <-release:
			case <-ctx.Done():
				return []byte("ctx done")
			}
		}
		return req
	})
	var wg sync.WaitGroup
	for i := 0; i < limit-1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := c.nodes[1].Call(t.Context(), 2, []byte("block")); err != nil || string(out) != "block" {
				t.Errorf("blocked call: %q, %v", out, err)
			}
		}()
	}
	waitFor(t, "handlers blocked", 5*time.Second, func() bool { return c.nodes[2].Metrics().CallsActive == limit-1 })

	c.nodes[1].Send(msgApp(1, 1, 2, 1, 10))
	c.nodes[1].Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 9, To: 2, Term: 3})
	c.nodes[1].FlushHeartbeats()
	waitFor(t, "message and heartbeat while calls block", 5*time.Second, func() bool { return c.recs[2].count() == 2 })
	if out, err := c.nodes[1].Call(t.Context(), 2, []byte("quick")); err != nil || string(out) != "quick" {
		t.Fatalf("quick call behind blocked ones: %q, %v", out, err)
	}

	// Fill the last slot, then one more is refused.
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.nodes[1].Call(t.Context(), 2, []byte("block"))
	}()
	waitFor(t, "all slots taken", 5*time.Second, func() bool { return c.nodes[2].Metrics().CallsActive == limit })
	if _, err := c.nodes[1].Call(t.Context(), 2, []byte("quick")); !errors.Is(err, ErrCallRefused) {
		t.Fatalf("call beyond MaxConcurrentCalls: %v, want ErrCallRefused", err)
	}
	close(release)
	wg.Wait()
	if m := c.nodes[2].Metrics(); m.CallsRefused != 1 || m.CallsActive != 0 {
		t.Fatalf("callee metrics %+v", m)
	}
}

// TestCallDeadline: a handler slower than the caller's deadline makes the
// Call fail with ErrTimeout (and ctx's error); the handler sees the
// caller's deadline in its own ctx.
func TestCallDeadline(t *testing.T) {
	c := newCluster(t, 2, nil)
	sawDeadline := make(chan bool, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the cluster closes
	c.recs[2].setCallFn(func(ctx context.Context, _ raftpb.NodeID, _ []byte) []byte {
		_, ok := ctx.Deadline()
		sawDeadline <- ok
		<-ctx.Done()
		<-release // answer only after the caller gave up
		return nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.nodes[1].Call(ctx, 2, []byte("slow"))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	// fastrpc's timeout sweeper is coarse (see DEPENDENCIES.md).
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("call returned after %v", d)
	}
	if !<-sawDeadline {
		t.Fatal("handler ctx had no deadline")
	}
	if _, err := c.nodes[1].Call(ctx, 2, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call with an expired ctx: %v", err)
	}
	if m := c.nodes[1].Metrics(); m.CallsFailed != 2 {
		t.Fatalf("CallsFailed %d, want 2", m.CallsFailed)
	}
}

// TestCallPeerDown: a peer with no listener, or no address, is
// ErrUnreachable, within the deadline's order of magnitude.
func TestCallPeerDown(t *testing.T) {
	c := newCluster(t, 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.res.Set(3, ln.Addr().String())
	ln.Close()
	for _, to := range []raftpb.NodeID{3, 4} { // 4 has no address
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		start := time.Now()
		_, err := c.nodes[1].Call(ctx, to, []byte("x"))
		cancel()
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("call to node %d: %v, want ErrUnreachable", to, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("call to node %d returned after %v", to, d)
		}
	}
}

// TestCallNoHandler: a Handler without HandleCall refuses Calls.
func TestCallNoHandler(t *testing.T) {
	c := newCluster(t, 1, nil)
	plain, err := New(Options{NodeID: 2, ClusterID: 7, ListenAddr: "127.0.0.1:0", Resolver: c.res,
		Logger: quietLogger(), SnapshotDir: t.TempDir()}, messagesOnly{newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	c.res.Set(2, plain.Addr().String())
	if _, err := c.nodes[1].Call(t.Context(), 2, []byte("x")); !errors.Is(err, ErrCallRefused) {
		t.Fatalf("err %v, want ErrCallRefused", err)
	}
	if m := plain.Metrics(); m.CallsRefused != 1 {
		t.Fatalf("CallsRefused %d", m.CallsRefused)
	}
}

// messagesOnly is a Handler without HandleCall.
type messagesOnly struct{ r *recorder }

func (m messagesOnly) HandleMessages(b []raftpb.Message) { m.r.HandleMessages(b) }

func (m messagesOnly) HandleSnapshot(ctx context.Context, msg raftpb.Message, data io.Reader) error {
	return m.r.HandleSnapshot(ctx, msg, data)
}

// TestCallTLS: Calls travel over mutual TLS; a node from another CA gets
// no answer.
func TestCallTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "cluster")
	c := newCluster(t, 2, func(o *Options) { o.TLS = ca.issue(t, dir, fmt.Sprintf("node%d", o.NodeID)) })
	if out, err := c.nodes[1].Call(t.Context(), 2, []byte("over tls")); err != nil || string(out) != "echo from 1: over tls" {
		t.Fatalf("call over TLS: %q, %v", out, err)
	}
	rogue, err := New(Options{NodeID: 3, ClusterID: 7, ListenAddr: "127.0.0.1:0", Resolver: c.res,
		TLS: newTestCA(t, dir, "rogue").issue(t, dir, "rogue3"), Logger: quietLogger()}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := rogue.Call(ctx, 2, []byte("intruder")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call from another CA: %v, want ErrUnreachable", err)
	}
	if m := c.nodes[2].Metrics(); m.CallsServed != 1 {
		t.Fatalf("CallsServed %d, want only the trusted call", m.CallsServed)
	}
}

// TestCallClose: closing the caller fails its waiting Call at once and
// refuses new ones; closing the callee cancels its running handlers' ctx,
// waits for them, and the waiting Call returns promptly.
func TestCallClose(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.recs[2].setCallFn(func(ctx context.Context, _ raftpb.NodeID, _ []byte) []byte {
		<-ctx.Done()
		return []byte("late")
	})
	call := func(tr *Transport) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := tr.Call(context.Background(), 2, []byte("x"))
			done <- err
		}()
		return done
	}
	wait := func(what string, done chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: call still waiting after 5 s", what)
			return nil
		}
	}

	c3 := newCluster(t, 1, nil) // a second caller, node 1 of its own cluster value
	c3.res.Set(2, c.nodes[2].Addr().String())
	done := call(c3.nodes[1])
	waitFor(t, "handler running", 5*time.Second, func() bool { return c.nodes[2].Metrics().CallsActive == 1 })
	c3.nodes[1].Close()
	if err := wait("caller closed", done); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closing caller: %v, want ErrClosed", err)
	}
	if _, err := c3.nodes[1].Call(t.Context(), 2, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closed transport: %v", err)
	}

	done = call(c.nodes[1])
	waitFor(t, "second handler running", 5*time.Second, func() bool { return c.nodes[2].Metrics().CallsActive == 2 })
	c.nodes[2].Close() // returns only once both handlers have returned
	if m := c.nodes[2].Metrics(); m.CallsActive != 0 {
		t.Fatalf("CallsActive %d after Close", m.CallsActive)
	}
	wait("callee closed", done) // an answer written before the close, or an error
	c.nodes[1].Close()
	// Nothing of ours runs any more (fastrpc's parked client goroutines
	// have no frame of this package; see doc.go).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		left := transportGoroutines()
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines still running after Close:\n%s", left)
		}
	}
}

// transportGoroutines returns the stacks of goroutines running code of
// this package, tests excluded.
func transportGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "flotilla/transport.") && !strings.Contains(g, "flotilla/transport.Test") &&
			!strings.Contains(g, "flotilla/transport.waitFor") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestCallTooLarge: a request that cannot fit MaxFrameBytes is not sent.
func TestCallTooLarge(t *testing.T) {
	c := newCluster(t, 2, func(o *Options) { o.MaxFrameBytes = 64 << 10 })
	if _, err := c.nodes[1].Call(t.Context(), 2, make([]byte, 64<<10)); !errors.Is(err, ErrCallTooLarge) {
		t.Fatalf("err %v, want ErrCallTooLarge", err)
	}
	c.recs[2].setCallFn(func(context.Context, raftpb.NodeID, []byte) []byte { return make([]byte, 64<<10) })
	if _, err := c.nodes[1].Call(t.Context(), 2, nil); !errors.Is(err, ErrCallTooLarge) {
		t.Fatalf("err %v, want ErrCallTooLarge for a large answer", err)
	}
}

// rawCallConn dials addr's call server and performs fastrpc's handshake
// by hand.
func rawCallConn(t *testing.T, addr string) net.Conn { return rawConnAs(t, addr, callSniffHeader) }

// TestCallBadFramesCloseConnection: corrupt, oversized, misdirected and
// wrong-kind frames on a call connection close it and are counted, as
// does a call frame on a message connection; a good call frame written by
// hand is answered with a valid reply frame, and bad replies are refused.
func TestCallBadFramesCloseConnection(t *testing.T) {
	c := newCluster(t, 2, func(o *Options) { o.MaxFrameBytes = 64 << 10 })
	b := c.nodes[2]
	good := appendCall(nil, frameHeader{cluster: 7, from: 1, to: 2}, time.Second, []byte("hi"))
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	oversized := make([]byte, prefixBytes)
	binary.LittleEndian.PutUint32(oversized, 1<<20)
	cases := map[string][]byte{
		"corrupt":       corrupt,
		"oversized":     oversized,
		"other cluster": appendCall(nil, frameHeader{cluster: 8, from: 1, to: 2}, 0, nil),
		"misrouted":     appendCall(nil, frameHeader{cluster: 7, from: 1, to: 3}, 0, nil),
		"batch frame":   encodeBatch(7, 1, 2, []raftpb.Message{msgApp(1, 1, 2, 1, 10)}, nil),
		"bad timeout":   appendCall(nil, frameHeader{cluster: 7, from: 1, to: 2}, 2*maxCallTimeout, nil),
	}
	want := uint64(0)
	for name, frame := range cases {
		conn := rawCallConn(t, b.Addr().String())
		if _, err := conn.Write(append([]byte{1, 0, 0, 0}, frame...)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		expectClosed(t, conn)
		want++
		waitFor(t, name+" counted", 5*time.Second, func() bool { return b.Metrics().FramesRejected == want })
	}
	// A call frame on a message connection is refused there too.
	conn := rawConn(t, b.Addr().String())
	if _, err := conn.Write(append([]byte{1, 0, 0, 0}, good...)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
	want++
	waitFor(t, "call frame on a message connection counted", 5*time.Second, func() bool { return b.Metrics().FramesRejected == want })
	if m := b.Metrics(); m.CallsServed != 0 {
		t.Fatalf("%d calls served from bad frames", m.CallsServed)
	}

	conn = rawCallConn(t, b.Addr().String())
	if _, err := conn.Write(append([]byte{9, 0, 0, 0}, good...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var id [4]byte
	if _, err := io.ReadFull(br, id[:]); err != nil || id != [4]byte{9, 0, 0, 0} {
		t.Fatalf("reply id %v, %v", id, err)
	}
	a := c.nodes[1] // decode as node 1, the caller named in the frame
	rep := &callReply{t: a, peer: 2}
	if err := rep.read(br); err != nil || rep.status != replyOK || string(rep.payload) != "echo from 1: hi" {
		t.Fatalf("reply %d %q, %v", rep.status, rep.payload, err)
	}
	// A bad reply is refused on the caller's side too.
	bad := appendReply(nil, frameHeader{cluster: 7, from: 3, to: 1}, replyOK, nil)
	if err := (&callReply{t: a, peer: 2}).read(bufio.NewReader(bytes.NewReader(bad))); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("reply from the wrong node: %v", err)
	}
	bad = appendReply(nil, frameHeader{cluster: 7, from: 2, to: 1}, maxReplyStatus+1, nil)
	if err := (&callReply{t: a, peer: 2}).read(bufio.NewReader(bytes.NewReader(bad))); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("reply with a bad status: %v", err)
	}
}

// TestMemCall: the in-memory Call answers, and honours cuts, partitions,
// closed nodes and handlers without HandleCall.
func TestMemCall(t *testing.T) {
	n := NewMemNetwork(testSeed(t), Faults{})
	a := n.Add(1, newRecorder())
	n.Add(2, newRecorder())
	n.Add(3, messagesOnly{newRecorder()})
	ctx := t.Context()
	if out, err := a.Call(ctx, 2, []byte("hi")); err != nil || string(out) != "echo from 1: hi" {
		t.Fatalf("call: %q, %v", out, err)
	}
	if _, err := a.Call(ctx, 3, nil); !errors.Is(err, ErrCallRefused) {
		t.Fatalf("call to a node without HandleCall: %v", err)
	}
	n.Cut(2, 1) // the answer's direction only
	if _, err := a.Call(ctx, 2, nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call over a one-way cut: %v", err)
	}
	n.Heal()
	n.Partition([]raftpb.NodeID{1}, []raftpb.NodeID{2, 3})
	if _, err := a.Call(ctx, 2, nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call across a partition: %v", err)
	}
	n.Heal()
	if _, err := a.Call(ctx, 4, nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call to an unknown node: %v", err)
	}
	a.Close()
	if _, err := a.Call(ctx, 2, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call from a closed node: %v", err)
	}
}
