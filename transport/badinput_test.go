package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/valyala/fastrpc"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// rawConn dials addr's message server and performs fastrpc's handshake by
// hand, so the test can write arbitrary bytes where a frame belongs.
func rawConn(t *testing.T, addr string) net.Conn { return rawConnAs(t, addr, sniffHeader) }

// rawConnAs is rawConn for the server that sniff names (the message or the
// call connection).
func rawConnAs(t *testing.T, addr, sniff string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hello := append([]byte(sniff), fastrpcProtocolVersion, 1 /* CompressNone */, 0 /* no TLS */)
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, len(hello))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, reply); err != nil || !bytes.Equal(reply, hello) {
		t.Fatalf("handshake reply %q, %v", reply, err)
	}
	return c
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("connection still open after bad input (read %d, %v)", n, err)
	}
}

// TestBadFramesCloseConnection writes truncated, oversized, corrupt and
// malformed frames on raw connections: each closes its connection, is
// counted, delivers nothing, and the server keeps serving good peers.
func TestBadFramesCloseConnection(t *testing.T) {
	c := newCluster(t, 2, func(o *Options) { o.MaxFrameBytes = 64 << 10 })
	b := c.nodes[2]
	good := encodeBatch(7, 1, 2, []raftpb.Message{msgApp(1, 1, 2, 1, 10)}, nil)
	oversized := make([]byte, prefixBytes)
	binary.LittleEndian.PutUint32(oversized, 1<<20)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	badType := encodeBatch(7, 1, 2, []raftpb.Message{{Type: raftpb.MsgApp, Group: 1}}, nil)
	badType[prefixBytes+headerBytes] = 200 // message type
	finishFrame(badType, 1, 0)
	cases := map[string][]byte{
		"truncated": good[:len(good)-3],
		"oversized": oversized,
		"corrupt":   corrupt,
		"malformed": badType,
		"garbage":   bytes.Repeat([]byte{0xff}, 64),
	}
	want := uint64(0)
	for name, frame := range cases {
		conn := rawConn(t, b.Addr().String())
		req := append([]byte{0, 0, 0, 0}, frame...) // request ID 0: no response
		if _, err := conn.Write(req); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "truncated" {
			conn.(*net.TCPConn).CloseWrite() // the rest never comes
		}
		expectClosed(t, conn)
		want++
		waitFor(t, name+" counted", 5*time.Second, func() bool { return b.Metrics().FramesRejected == want })
	}
	if n := c.recs[2].count(); n != 0 {
		t.Fatalf("%d messages delivered from bad frames", n)
	}
	// A good frame on a raw connection is accepted, and real peers still work.
	conn := rawConn(t, b.Addr().String())
	conn.Write(append([]byte{0, 0, 0, 0}, good...))
	c.nodes[1].Send(msgApp(1, 1, 2, 2, 10))
	waitFor(t, "good frames delivered", 5*time.Second, func() bool { return c.recs[2].count() == 2 })
}

// TestBadInputHandshake opens connections that are not a Flotilla peer's:
// each is closed by the node without a reply (after the one fastrpc
// sends in its handshake), nothing is delivered, and real peers still
// get through.
func TestBadInputHandshake(t *testing.T) {
	c := newCluster(t, 2, nil)
	b := c.nodes[2]
	addr := b.Addr().String()
	cases := []struct {
		name  string
		hello []byte
	}{
		{"not_flotilla", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"wrong_protocol_version", append([]byte(sniffHeader), fastrpcProtocolVersion+1, 1, 0)},
		{"fastrpc_tls_flag", append([]byte(sniffHeader), fastrpcProtocolVersion, 1, 1)},
		{"silent", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := conn.Write(tc.hello); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			// (A close with our bytes unread arrives as a reset.)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("connection not closed: read %q, %v", got, err)
			}
			// fastrpc answers a handshake with its own before it refuses
			// an encrypted one; nothing else may come back.
			if len(got) > 0 && !(tc.name == "fastrpc_tls_flag" && bytes.HasPrefix(got, []byte(sniffHeader))) {
				t.Fatalf("reply %q", got)
			}
			if tc.name == "silent" && time.Since(start) < sniffTimeout/2 {
				t.Fatalf("a silent connection closed after %v, before the sniff timeout %v", time.Since(start), sniffTimeout)
			}
		})
	}
	if n := c.recs[2].count(); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
	c.nodes[1].Send(msgApp(1, 1, 2, 1, 10))
	waitFor(t, "a real peer's message", 5*time.Second, func() bool { return c.recs[2].count() == 1 })
}

// TestBadInputSnapshotChunks sends snapshot chunks a receiver must refuse
// one by one on a real connection: each gets its acknowledgement status
// (the sender restarts or gives up), its partial stream is discarded with
// its spool file, and no snapshot reaches the Handler.
func TestBadInputSnapshotChunks(t *testing.T) {
	spool := t.TempDir()
	c := newCluster(t, 1, func(o *Options) {
		o.NodeID, o.SnapshotDir, o.MaxSnapshotBytes, o.MaxFrameBytes = 2, spool, 10, 64<<10
	})
	b, rec := c.nodes[1], c.recs[1]
	addr := b.Addr().String()
	// send sends ch on cl's connection (a stream lives on one connection).
	send := func(t *testing.T, cl *fastrpc.Client, ch chunk, raw bool) (chunkAck, error) {
		t.Helper()
		if !raw {
			ch.data = s2.Encode(nil, ch.data)
		}
		f := &frame{buf: beginFrame(nil, frameHeader{kind: kindChunk, cluster: 7, from: 1, to: 2})}
		f.buf = appendChunk(f.buf, &ch)
		finishFrame(f.buf, 0, 0)
		var ack chunkAck
		err := cl.DoDeadline(f, &ack, time.Now().Add(10*time.Second))
		return ack, err
	}
	first := func(stream uint64, data string) chunk {
		return chunk{stream: stream, flags: chunkFirst, msg: snapMsg(1, 2), data: []byte(data)}
	}
	// An s2 block that says 10 bytes, then copies 4 from 100 bytes back.
	badS2 := []byte{10, 0x01, 100}
	cases := []struct {
		name  string
		lead  []chunk // sent first, acknowledged
		ch    chunk
		raw   bool // ch.data is already encoded
		state uint8
	}{
		{"unknown_stream", nil, chunk{stream: 99, seq: 1, data: []byte("x")}, false, ackRefused},
		{"duplicate_start", []chunk{first(40, "ab")}, first(40, "cd"), false, ackRefused},
		{"first_chunk_with_seq", nil, chunk{stream: 41, seq: 3, flags: chunkFirst, msg: snapMsg(1, 2)}, false, ackRefused},
		{"payload_not_s2", []chunk{first(42, "ab")}, chunk{stream: 42, seq: 1, data: badS2}, true, ackCorrupt},
		{"over_max_snapshot_bytes", []chunk{first(43, "abcde")}, chunk{stream: 43, seq: 1, data: []byte("fghijk")}, false, ackRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := naiveClient(addr)
			for _, l := range tc.lead {
				if ack, err := send(t, cl, l, false); err != nil || ack.status != ackOK {
					t.Fatalf("leading chunk: %+v, %v", ack, err)
				}
			}
			ack, err := send(t, cl, tc.ch, tc.raw)
			if err != nil || ack.status != tc.state || ack.msg == "" {
				t.Fatalf("ack %+v, %v; want status %d with a reason", ack, err, tc.state)
			}
			t.Logf("ack %d: %s", ack.status, ack.msg)
		})
	}
	// A chunk whose payload would decompress past a chunk's size is a bad
	// frame: the connection closes and the frame is counted.
	t.Run("payload_decodes_too_large", func(t *testing.T) {
		before := b.Metrics().FramesRejected
		ch := first(44, "")
		ch.data = s2.Encode(nil, make([]byte, 1<<20))
		if _, err := send(t, naiveClient(addr), ch, true); err == nil {
			t.Fatal("acknowledged")
		}
		waitFor(t, "frame counted", 5*time.Second, func() bool { return b.Metrics().FramesRejected == before+1 })
	})
	rec.mu.Lock()
	n := len(rec.snaps)
	rec.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d snapshots installed from bad chunks", n)
	}
	// Every refusal above discarded its stream and spool file.
	waitFor(t, "spool files removed", 5*time.Second, func() bool {
		ents, _ := os.ReadDir(spool)
		return len(ents) == 0
	})
}
