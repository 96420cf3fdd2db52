package transport

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/valyala/fastrpc"
)

// Benchmarks between two transports on loopback in one process. Compare
// the coalesced transport with the naive baseline measured in the same run
// (see docs/benchmarks.md, "Transport"):
//
//	go test ./transport -run '^$' -bench . -benchtime 3s -count 3

// benchPayload makes a MsgApp whose encoding is about 100 bytes.
const benchPayload = 80

// benchWindowFlag bounds messages sent but not yet received, as Raft's
// in-flight limit would; it keeps both paths loss-free. The default is the
// window the published figures use; -bench-window measures how much the
// rate depends on it (a bigger window lets sender and receiver overlap).
var benchWindowFlag = flag.Int("bench-window", 4096, "benchmarks: messages sent but not yet received")

// counter is a Handler counting what arrives.
type counter struct {
	msgs   atomic.Int64
	frames atomic.Int64
	wake   chan struct{}
}

func newCounter() *counter { return &counter{wake: make(chan struct{}, 1)} }

func (c *counter) HandleMessages(batch []raftpb.Message) {
	c.frames.Add(1)
	c.msgs.Add(int64(len(batch)))
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// snapIgnorer adds a no-op HandleSnapshot to a counter.
type snapIgnorer struct{ *counter }

func (snapIgnorer) HandleSnapshot(context.Context, raftpb.Message, io.Reader) error { return nil }

// waitBelow blocks until fewer than window messages are outstanding.
func (c *counter) waitBelow(sent int64, window int64) {
	for sent-c.msgs.Load() >= window {
		select {
		case <-c.wake:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func benchPair(b *testing.B) (*Transport, *Transport, *counter) {
	b.Helper()
	res := &StaticResolver{}
	rc := newCounter()
	mk := func(id raftpb.NodeID, h Handler) *Transport {
		tr, err := New(Options{NodeID: id, ClusterID: 1, ListenAddr: "127.0.0.1:0", Resolver: res, Logger: quietLogger(),
			MaxQueuedMessages: 2 * *benchWindowFlag}, h)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		res.Set(id, tr.Addr().String())
		return tr
	}
	a := mk(1, snapIgnorer{rc})
	r := mk(2, snapIgnorer{rc})
	return a, r, rc
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report records messages/s, MB/s of Raft message bytes, and CPU per
// message (both nodes, whole process).
func report(b *testing.B, n int, wall, cpu time.Duration, frames int64) {
	b.ReportMetric(float64(n)/wall.Seconds(), "msgs/s")
	b.ReportMetric(float64(n)*100/wall.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/msg")
	b.ReportMetric(float64(n)/float64(max(frames, 1)), "msgs/frame")
}

func BenchmarkMessages(b *testing.B) {
	for _, groups := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("coalesced/groups=%d", groups), func(b *testing.B) { benchCoalesced(b, groups) })
		b.Run(fmt.Sprintf("coalesced-send64/groups=%d", groups), func(b *testing.B) { benchCoalescedBatched(b, groups) })
		b.Run(fmt.Sprintf("naive/groups=%d", groups), func(b *testing.B) { benchNaive(b, groups) })
	}
}

func benchMessages(groups int) []raftpb.Message {
	msgs := make([]raftpb.Message, groups)
	for g := range msgs {
		msgs[g] = msgApp(raftpb.GroupID(g), 1, 2, raftpb.Index(1000+g), benchPayload)
	}
	return msgs
}

// benchCoalesced: every message goes through Send, one call per message.
func benchCoalesced(b *testing.B, groups int) {
	a, _, rc := benchPair(b)
	msgs := benchMessages(groups)
	runCoalesced(a, rc, msgs, 1) // connect
	runtime.GC()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	frames := runCoalesced(a, rc, msgs, b.N)
	b.StopTimer()
	report(b, b.N, time.Since(start), cpuTime()-cpu0, frames)
}

// benchCoalescedBatched: as benchCoalesced, but 64 messages per Send call,
// as a store hands over a round's messages (one lock per call, not per
// message).
func benchCoalescedBatched(b *testing.B, groups int) {
	a, _, rc := benchPair(b)
	msgs := benchMessages(groups)
	for len(msgs) < 2*sendBatch {
		msgs = append(msgs, msgs...)
	}
	runCoalescedBatched(a, rc, msgs, sendBatch) // connect
	runtime.GC()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	frames := runCoalescedBatched(a, rc, msgs, b.N)
	b.StopTimer()
	report(b, b.N, time.Since(start), cpuTime()-cpu0, frames)
}

// sendBatch is the messages per Send call of benchCoalescedBatched.
const sendBatch = 64

// runCoalescedBatched sends n messages (rounded up to sendBatch) through
// a, sendBatch per call, and waits until rc has them all.
func runCoalescedBatched(a *Transport, rc *counter, msgs []raftpb.Message, n int) int64 {
	rc.msgs.Store(0)
	rc.frames.Store(0)
	sent := 0
	for ; sent < n; sent += sendBatch {
		if sent%256 == 0 {
			rc.waitBelow(int64(sent), int64(*benchWindowFlag))
		}
		off := sent % (len(msgs) - sendBatch)
		a.Send(msgs[off : off+sendBatch]...)
	}
	rc.waitBelow(int64(sent), 1)
	return rc.frames.Load()
}

// runCoalesced sends n messages through a and waits until rc has them
// all; it returns the frames they took.
func runCoalesced(a *Transport, rc *counter, msgs []raftpb.Message, n int) int64 {
	rc.msgs.Store(0)
	rc.frames.Store(0)
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			rc.waitBelow(int64(i), int64(*benchWindowFlag))
		}
		a.Send(msgs[i%len(msgs)])
	}
	rc.waitBelow(int64(n), 1)
	return rc.frames.Load()
}

// naiveClient is the baseline's fastrpc client to addr.
func naiveClient(addr string) *fastrpc.Client {
	return &fastrpc.Client{SniffHeader: sniffHeader, ProtocolVersion: fastrpcProtocolVersion, Addr: addr,
		CompressType: fastrpc.CompressNone, NewResponse: func() fastrpc.ResponseReader { return &chunkAck{} },
		MaxPendingRequests: 2 * *benchWindowFlag}
}

// benchNaive: one fastrpc request (a one-message frame) per message, on
// the same server, no coalescing.
func benchNaive(b *testing.B, groups int) {
	_, r, rc := benchPair(b)
	cl := naiveClient(r.Addr().String())
	msgs := benchMessages(groups)
	runNaive(cl, rc, msgs, 1)
	runtime.GC()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	frames := runNaive(cl, rc, msgs, b.N)
	b.StopTimer()
	report(b, b.N, time.Since(start), cpuTime()-cpu0, frames)
}

// runNaive sends n messages as n requests and waits until rc has them.
func runNaive(cl *fastrpc.Client, rc *counter, msgs []raftpb.Message, n int) int64 {
	rc.msgs.Store(0)
	rc.frames.Store(0)
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			rc.waitBelow(int64(i), int64(*benchWindowFlag))
		}
		// Encoding each message anew keeps the comparison honest.
		g := i % len(msgs)
		f := naiveRequest(msgs[g:g+1], nil)
		for !cl.SendNowait(f, nil) {
			runtime.Gosched()
		}
	}
	rc.waitBelow(int64(n), 1)
	return rc.frames.Load()
}

// naiveRequest encodes one message (or heartbeat) as its own request the
// way a careful per-message sender would: one buffer allocated at its
// final size (appending to a nil slice instead, as encodeBatch does, grew
// it five times and made a fifth of the naive path's CPU the harness's).
func naiveRequest(msgs, hbs []raftpb.Message) *frame {
	size := prefixBytes + headerBytes + 64
	for i := range msgs {
		for _, e := range msgs[i].Entries {
			size += len(e.Data) + 24
		}
	}
	b := beginFrame(make([]byte, 0, size), frameHeader{kind: kindBatch, cluster: 1, from: 1, to: 2})
	for i := range msgs {
		b = appendMessage(b, &msgs[i])
	}
	for i := range hbs {
		b = appendHeartbeat(b, &hbs[i])
	}
	finishFrame(b, uint32(len(msgs)), uint32(len(hbs)))
	return &frame{buf: b}
}

// rpcCallers is the number of goroutines of the RPC baseline, each sending
// its messages as request/response calls, as a per-group sender would.
const rpcCallers = 64

// runNaiveRPC sends n messages, each as one fastrpc call that waits for
// its response (DoDeadline), from rpcCallers goroutines.
func runNaiveRPC(cl *fastrpc.Client, rc *counter, msgs []raftpb.Message, n int) {
	rc.msgs.Store(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < rpcCallers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ack chunkAck
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				g := int(i) % len(msgs)
				f := naiveRequest(msgs[g:g+1], nil)
				if err := cl.DoDeadline(f, &ack, time.Now().Add(10*time.Second)); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	rc.waitBelow(int64(n), 1)
}

// BenchmarkRatio measures the coalesced transport against two baselines in
// rotating bursts within one benchmark, so that background load on a
// shared machine hits all alike. One iteration is one burst of each (order
// rotating). Baselines: "naive", one fastrpc SendNowait request per
// message (fastrpc still batches socket writes); "rpc", one fastrpc call
// per message waiting for its response, from rpcCallers goroutines. It
// reports the rates, their ratios ("x-naive", "x-rpc"), and the ratio of
// CPU per message against the naive baseline ("x-cpu-efficiency").
func BenchmarkRatio(b *testing.B) {
	for _, groups := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			a, _, rcA := benchPair(b)
			_, r, rcN := benchPair(b)
			cl := naiveClient(r.Addr().String())
			_, r2, rcR := benchPair(b)
			rpc := naiveClient(r2.Addr().String())
			msgs := benchMessages(groups)
			runCoalesced(a, rcA, msgs, 1000)
			runNaive(cl, rcN, msgs, 1000)
			runNaiveRPC(rpc, rcR, msgs, 1000)
			const nCoalesced, nNaive, nRPC = 400000, 40000, 10000
			var wallC, wallN, wallR, cpuC, cpuN time.Duration
			for i := 0; i < b.N; i++ {
				for k := 0; k < 3; k++ {
					runtime.GC()
					start, cpu0 := time.Now(), cpuTime()
					switch (i + k) % 3 {
					case 0:
						runCoalesced(a, rcA, msgs, nCoalesced)
						wallC, cpuC = wallC+time.Since(start), cpuC+cpuTime()-cpu0
					case 1:
						runNaive(cl, rcN, msgs, nNaive)
						wallN, cpuN = wallN+time.Since(start), cpuN+cpuTime()-cpu0
					case 2:
						runNaiveRPC(rpc, rcR, msgs, nRPC)
						wallR += time.Since(start)
					}
				}
			}
			rateR := float64(b.N*nRPC) / wallR.Seconds()
			rateC := float64(b.N*nCoalesced) / wallC.Seconds()
			rateN := float64(b.N*nNaive) / wallN.Seconds()
			cpuPerC := float64(cpuC.Nanoseconds()) / float64(b.N*nCoalesced)
			cpuPerN := float64(cpuN.Nanoseconds()) / float64(b.N*nNaive)
			b.ReportMetric(rateC, "coalesced-msgs/s")
			b.ReportMetric(rateN, "naive-msgs/s")
			b.ReportMetric(rateC/rateN, "x-naive")
			b.ReportMetric(rateR, "rpc-msgs/s")
			b.ReportMetric(rateC/rateR, "x-rpc")
			b.ReportMetric(cpuPerC, "coalesced-cpu-ns/msg")
			b.ReportMetric(cpuPerN, "naive-cpu-ns/msg")
			b.ReportMetric(cpuPerN/cpuPerC, "x-cpu-efficiency")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkHeartbeats: one iteration is one tick with 10,000 active
// groups split between two nodes; each node queues a heartbeat for each
// group it leads and a response for each group the other leads, then
// flushes once. Reported: frames per tick per direction (goal: 1), ticks/s
// and CPU per heartbeat; the naive baseline sends one request per heartbeat.
func BenchmarkHeartbeats(b *testing.B) {
	const groups = 10000
	b.Run("coalesced/groups=10000", func(b *testing.B) {
		a, r, rc := benchPair(b)
		out := map[*Transport][]raftpb.Message{a: heartbeats(1, 2, groups), r: heartbeats(2, 1, groups)}
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			for tr, msgs := range out {
				tr.Send(msgs...)
				tr.FlushHeartbeats()
			}
			rc.waitBelow(int64((i+1)*2*groups), 1)
		}
		b.StopTimer()
		reportTicks(b, groups, time.Since(start), cpuTime()-cpu0, rc.frames.Load())
	})
	b.Run("naive/groups=10000", func(b *testing.B) {
		_, r, rc := benchPair(b)
		cl := naiveClient(r.Addr().String())
		cl.MaxPendingRequests = 4 * groups
		hbs := heartbeats(1, 2, groups)
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			for j := 0; j < 2; j++ { // both directions' worth of heartbeats, over one link
				for k := range hbs {
					f := naiveRequest(nil, hbs[k:k+1])
					for !cl.SendNowait(f, nil) {
						runtime.Gosched()
					}
				}
			}
			rc.waitBelow(int64((i+1)*2*groups), 1)
		}
		b.StopTimer()
		reportTicks(b, groups, time.Since(start), cpuTime()-cpu0, rc.frames.Load())
	})
}

func reportTicks(b *testing.B, groups int, wall, cpu time.Duration, frames int64) {
	b.ReportMetric(float64(frames)/float64(2*b.N), "frames/tick/dir")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "ticks/s")
	b.ReportMetric(float64(2*groups*b.N)/wall.Seconds(), "heartbeats/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(2*groups*b.N), "cpu-ns/hb")
}

// heartbeats builds one tick's heartbeats from -> to: a heartbeat for each
// group from leads (even groups) and a response for the others.
func heartbeats(from, to raftpb.NodeID, groups int) []raftpb.Message {
	out := make([]raftpb.Message, groups)
	for g := range out {
		typ := raftpb.MsgHeartbeat
		if (g%2 == 0) != (from == 1) {
			typ = raftpb.MsgHeartbeatResp
		}
		out[g] = raftpb.Message{Type: typ, Group: raftpb.GroupID(g), From: from, To: to, Term: 5, Commit: 100}
	}
	return out
}

// BenchmarkCodec measures encoding and decoding alone, per message, for a
// frame of 1,000 100-byte messages. Decoding reuses the message slice, as
// the server does. Besides ns/op (wall time, which a loaded machine
// inflates) it reports the process's CPU time per message.
func BenchmarkCodec(b *testing.B) {
	msgs := benchMessages(1000)
	buf := make([]byte, 0, 256<<10)
	b.Run("encode", func(b *testing.B) {
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if i%1000 == 0 {
				buf = beginFrame(buf[:0], frameHeader{kind: kindBatch, cluster: 1, from: 1, to: 2})
			}
			buf = appendMessage(buf, &msgs[i%1000])
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/msg")
	})
	frame := encodeBatch(1, 1, 2, msgs, nil)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var out []raftpb.Message
		cpu0 := cpuTime()
		for i := 0; i < b.N; i += 1000 {
			h, body, _ := parseHeader(frame[prefixBytes:], 1, 2)
			var err error
			if out, err = decodeBatch(h, body, out); err != nil {
				b.Fatal(err)
			}
			out = recycleBatch(out)
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/msg")
	})
}
