package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestMalformedInput sends broken RESP: the server answers a protocol
// error and closes the connection, as Redis does, and keeps serving
// other connections.
func TestMalformedInput(t *testing.T) {
	n := openSingle(t, nil)
	for _, in := range []string{"*-5x\r\n", "*2\r\n$abc\r\n", "*1\r\n$3\r\nGETTOOLONG\r\n"} {
		raw, err := net.Dial("tcp", n.Server.ClientAddr())
		must(t, err)
		must(t, raw.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = raw.Write([]byte(in))
		must(t, err)
		r := bufio.NewReader(raw)
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "-ERR Protocol error") {
			t.Fatalf("%q: got %q, %v", in, line, err)
		}
		if _, err := r.ReadString('\n'); err != io.EOF {
			t.Fatalf("%q: connection not closed after a protocol error: %v", in, err)
		}
		_ = raw.Close()
	}
	// Inline commands (as telnet or PING_INLINE send them) work.
	raw, err := net.Dial("tcp", n.Server.ClientAddr())
	must(t, err)
	defer raw.Close()
	must(t, raw.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = raw.Write([]byte("PING\r\nECHO hi\r\n"))
	must(t, err)
	r := bufio.NewReader(raw)
	if l, _ := r.ReadString('\n'); l != "+PONG\r\n" {
		t.Fatalf("inline PING: %q", l)
	}
	if l, _ := r.ReadString('\n'); l != "$2\r\n" {
		t.Fatalf("inline ECHO: %q", l)
	}
	must(t, newClient(t, n, "").Ping(context.Background()).Err())
}

func TestValueTooLarge(t *testing.T) {
	n := openSingle(t, func(o *NodeOptions) { o.Server.MaxValueBytes = 100 })
	c := newClient(t, n, "")
	ctx := context.Background()
	wantErr(t, c.Set(ctx, "k", strings.Repeat("v", 101), 0).Err(), "ERR value too large: 101 bytes (max 100)")
	wantErr(t, c.MSet(ctx, "a", "1", "b", strings.Repeat("v", 101)).Err(), "ERR value too large")
	must(t, c.Set(ctx, "k", strings.Repeat("v", 100), 0).Err())
	if n, _ := c.Exists(ctx, "a", "b").Result(); n != 0 {
		t.Fatalf("a refused MSET wrote %d keys", n)
	}
	code, _ := httpDo(t, "PUT", "http://"+n.Server.HTTPAddr()+"/api/kv/k", strings.Repeat("v", 101))
	if code != 413 {
		t.Fatalf("HTTP PUT of a large value = %d", code)
	}
}
