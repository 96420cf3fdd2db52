package transport

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestSnapshotStreamDelivered(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	spool := t.TempDir()
	c := newCluster(t, 2, func(o *Options) { o.SnapshotChunkBytes = 256 << 10; o.SnapshotDir = spool })
	// Half compressible, half random, not a multiple of the chunk size.
	data := append(bytes.Repeat([]byte("flotilla "), 300000), randomBytes(rng, 700001)...)
	for _, size := range []int{0, 1, 256 << 10, len(data)} {
		if err := c.nodes[1].SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource(data[:size])); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		r := c.recs[2]
		r.mu.Lock()
		got := r.snaps[len(r.snaps)-1]
		r.mu.Unlock()
		if !bytes.Equal(got.data, data[:size]) {
			t.Fatalf("size %d: received %d bytes that differ", size, len(got.data))
		}
		want := snapMsg(1, 2)
		if got.msg.Type != raftpb.MsgSnap || got.msg.Group != 42 || got.msg.From != 1 || got.msg.To != 2 ||
			got.msg.Snapshot.Metadata.Index != 100 || !got.msg.Snapshot.Metadata.ConfState.Equal(want.Snapshot.Metadata.ConfState) {
			t.Fatalf("received %v", got.msg)
		}
	}
	m1, m2 := c.nodes[1].Metrics(), c.nodes[2].Metrics()
	if m1.SnapshotsSent != 4 || m2.SnapshotsReceived != 4 || m1.SnapshotBytesSent >= uint64(len(data)+3*(256<<10)) {
		t.Fatalf("sender %+v receiver %+v", m1, m2)
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Fatalf("%d spool files left behind", len(ents))
	}
}

func TestSnapshotRejectedByHandler(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.recs[2].installFn = func(raftpb.Message, []byte) error { return errors.New("disk full") }
	err := c.nodes[1].SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource("abc"))
	if !errors.Is(err, ErrSnapshotRejected) || !errors.Is(err, ErrSnapshotFailed) {
		t.Fatalf("err = %v, want a rejection", err)
	}
	if m := c.nodes[2].Metrics(); m.SnapshotInstallFailures != 1 || m.SnapshotsReceived != 0 {
		t.Fatalf("receiver metrics %+v", m)
	}
}

// breakingSource breaks the sender's snapshot connection after some bytes
// have been read, on the first attempt only.
type breakingSource struct {
	data    []byte
	after   int
	opens   atomic.Int32
	breakFn func()
}

func (s *breakingSource) Open() (io.ReadCloser, error) {
	if s.opens.Add(1) > 1 {
		return io.NopCloser(bytes.NewReader(s.data)), nil
	}
	return io.NopCloser(&breakingReader{r: bytes.NewReader(s.data), left: s.after, fn: s.breakFn}), nil
}

type breakingReader struct {
	r    io.Reader
	left int
	fn   func()
}

func (b *breakingReader) Read(p []byte) (int, error) {
	if b.left <= 0 && b.fn != nil {
		b.fn()
		b.fn = nil
	}
	p = p[:min(len(p), max(b.left, 1))]
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

// TestSnapshotBrokenStreamRestarts cuts the snapshot connection mid-stream:
// the receiver discards the partial stream (never installs it), the sender
// restarts from the beginning, and exactly one complete install happens.
func TestSnapshotBrokenStreamRestarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	c := newCluster(t, 2, func(o *Options) { o.SnapshotChunkBytes = 64 << 10 })
	a := c.nodes[1]
	data := randomBytes(rng, 1<<20)
	src := &breakingSource{data: data, after: 512 << 10, breakFn: func() {
		p := a.peer(2)
		p.snap.mu.Lock()
		conn := p.snap.mu.conn
		p.snap.mu.Unlock()
		conn.Close()
	}}
	if err := a.SendSnapshot(t.Context(), snapMsg(1, 2), src); err != nil {
		t.Fatal(err)
	}
	if src.opens.Load() != 2 {
		t.Fatalf("source opened %d times, want 2 (one restart)", src.opens.Load())
	}
	r := c.recs[2]
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.snaps) != 1 || !bytes.Equal(r.snaps[0].data, data) {
		t.Fatalf("%d installs; want exactly one, complete", len(r.snaps))
	}
	waitFor(t, "partial stream discarded", 5*time.Second, func() bool { return c.nodes[2].Metrics().SnapshotStreamsAborted == 1 })
}

func TestSnapshotGivesUpAfterAttempts(t *testing.T) {
	c := newCluster(t, 1, func(o *Options) {
		o.MaxSnapshotAttempts = 2
		o.SnapshotChunkTimeout, o.SnapshotInstallTimeout = time.Second, time.Second
	})
	c.res.Set(2, deadAddr(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := c.nodes[1].SendSnapshot(ctx, snapMsg(1, 2), BytesSource("x"))
	if !errors.Is(err, ErrSnapshotFailed) {
		t.Fatalf("err = %v", err)
	}
	if m := c.nodes[1].Metrics(); m.SnapshotFailures != 1 {
		t.Fatalf("metrics %+v", m)
	}
}

// TestSnapshotRateLimitAndHeartbeatsUnaffected streams a rate-limited
// snapshot and meanwhile flushes heartbeats every 20 ms: the snapshot takes
// at least as long as the limit implies, and every heartbeat flush arrives
// promptly, because snapshots travel on their own connection.
func TestSnapshotRateLimitAndHeartbeatsUnaffected(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 4))
	const rate = 1 << 20 // bytes/s
	c := newCluster(t, 2, func(o *Options) { o.SnapshotChunkBytes = 32 << 10; o.SnapshotBytesPerSec = rate })
	a, rb := c.nodes[1], c.recs[2]
	data := randomBytes(rng, 2<<20) // incompressible: about 2 s at the limit
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.SendSnapshot(context.Background(), snapMsg(1, 2), BytesSource(data)) }()
	var worst time.Duration
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			// The bucket starts with two chunks of credit.
			if min := time.Duration(float64(len(data)-2*(32<<10)) / rate * float64(time.Second)); elapsed < min*9/10 {
				t.Fatalf("%d bytes at %d B/s took %v, want >= %v", len(data), rate, elapsed, min)
			}
			// Blocked behind the snapshot, a heartbeat would wait for its
			// end (about 2 s); 750 ms leaves room for a loaded machine.
			if worst > 750*time.Millisecond {
				t.Fatalf("a heartbeat flush took %v to arrive during the snapshot", worst)
			}
			t.Logf("snapshot %v, %d heartbeat rounds, slowest %v", elapsed, i, worst)
			return
		default:
		}
		before := rb.count()
		sent := time.Now()
		a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 1, From: 1, To: 2, Term: 1, Commit: raftpb.Index(i)})
		a.FlushHeartbeats()
		waitFor(t, "heartbeat during snapshot", 5*time.Second, func() bool { return rb.count() > before })
		worst = max(worst, time.Since(sent))
		time.Sleep(20 * time.Millisecond) // pacing the heartbeat "ticks", not synchronization
	}
}

// TestSnapshotNeverHalfInstalls drives the receiver with hand-made chunk
// streams: a stream whose checksum or size does not match, a stream that
// skips a chunk, and one that stops before its last chunk must never reach
// the Handler, and their spool files must go.
func TestSnapshotNeverHalfInstalls(t *testing.T) {
	spool := t.TempDir()
	c := newCluster(t, 1, func(o *Options) { o.NodeID = 2; o.SnapshotDir = spool })
	b, rec := c.nodes[1], c.recs[1]
	cl := naiveClient(b.Addr().String())
	data := []byte("snapshot-bytes-")
	crc := crc32.Checksum(data, castagnoli)
	send := func(ch chunk) chunkAck {
		t.Helper()
		ch.data = s2.Encode(nil, ch.data)
		f := &frame{buf: beginFrame(nil, frameHeader{kind: kindChunk, cluster: 7, from: 1, to: 2})}
		f.buf = appendChunk(f.buf, &ch)
		finishFrame(f.buf, 0, 0)
		var ack chunkAck
		if err := cl.DoDeadline(f, &ack, time.Now().Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		return ack
	}
	msg := snapMsg(1, 2)
	first := func(stream uint64, flags uint8) chunk {
		return chunk{stream: stream, flags: chunkFirst | flags, msg: msg, data: data[:5]}
	}
	// Wrong checksum, then wrong size, on the last chunk.
	for i, last := range []chunk{{seq: 1, flags: chunkLast, size: uint64(len(data)), crc: crc ^ 1, data: data[5:]},
		{seq: 1, flags: chunkLast, size: uint64(len(data)) + 1, crc: crc, data: data[5:]}} {
		stream := uint64(10 + i)
		if ack := send(first(stream, 0)); ack.status != ackOK {
			t.Fatalf("first chunk: %+v", ack)
		}
		last.stream = stream
		if ack := send(last); ack.status != ackCorrupt {
			t.Fatalf("bad last chunk acknowledged: %+v", ack)
		}
	}
	// A gap in sequence numbers aborts the stream.
	send(first(20, 0))
	if ack := send(chunk{stream: 20, seq: 2, flags: chunkLast, size: uint64(len(data)), crc: crc, data: data[5:]}); ack.status != ackRefused {
		t.Fatalf("out-of-order chunk: %+v", ack)
	}
	// A stream that never finishes, superseded by a good one for the same group.
	send(first(30, 0))
	send(first(31, 0))
	if ack := send(chunk{stream: 31, seq: 1, flags: chunkLast, size: uint64(len(data)), crc: crc, data: data[5:]}); ack.status != ackOK {
		t.Fatalf("good stream: %+v", ack)
	}
	rec.mu.Lock()
	n, got := len(rec.snaps), rec.snaps
	rec.mu.Unlock()
	if n != 1 || !bytes.Equal(got[0].data, data) {
		t.Fatalf("%d installs, want exactly the one good stream", n)
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Fatalf("%d spool files left", len(ents))
	}
	if m := b.Metrics(); m.SnapshotStreamsAborted != 4 || m.SnapshotsReceived != 1 {
		t.Fatalf("metrics %+v: want 4 discarded (2 corrupt, gap, superseded), 1 received", m)
	}
}

// TestSnapshotIncomingBound: streams beyond MaxIncomingSnapshots are
// refused (the sender retries later); a slot frees when a stream ends.
func TestSnapshotIncomingBound(t *testing.T) {
	c := newCluster(t, 1, func(o *Options) { o.NodeID = 2; o.MaxIncomingSnapshots = 1 })
	cl := naiveClient(c.nodes[1].Addr().String())
	send := func(ch chunk) uint8 {
		t.Helper()
		ch.data = s2.Encode(nil, []byte("x"))
		f := &frame{buf: beginFrame(nil, frameHeader{kind: kindChunk, cluster: 7, from: 1, to: 2})}
		f.buf = appendChunk(f.buf, &ch)
		finishFrame(f.buf, 0, 0)
		var ack chunkAck
		if err := cl.DoDeadline(f, &ack, time.Now().Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		return ack.status
	}
	m1, m2 := snapMsg(1, 2), snapMsg(1, 2)
	m2.Group = 43
	if st := send(chunk{stream: 1, flags: chunkFirst, msg: m1}); st != ackOK {
		t.Fatalf("first stream: status %d", st)
	}
	if st := send(chunk{stream: 2, flags: chunkFirst, msg: m2}); st != ackRefused {
		t.Fatalf("second stream over the bound: status %d, want refused", st)
	}
	if st := send(chunk{stream: 1, seq: 1, flags: chunkLast, size: 2, crc: crc32.Checksum([]byte("xx"), castagnoli)}); st != ackOK {
		t.Fatalf("finishing the first stream: status %d", st)
	}
	if st := send(chunk{stream: 3, flags: chunkFirst | chunkLast, msg: m2, size: 1, crc: crc32.Checksum([]byte("x"), castagnoli)}); st != ackOK {
		t.Fatalf("a stream after the slot freed: status %d", st)
	}
}
