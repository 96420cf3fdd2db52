package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

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
