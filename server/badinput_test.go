package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilladb/flotilla/placement"
)

// Limits of the bad-input tests' node: small, so oversized input is cheap.
const (
	biMaxKey     = 100
	biMaxValue   = 1000
	biMaxRequest = 10000
	biMaxBulk    = 2 * biMaxValue // the default: twice the larger limit
)

func openBadInputNode(t *testing.T) *Node {
	return openSingle(t, func(o *NodeOptions) {
		o.Server.MaxKeyBytes, o.Server.MaxValueBytes, o.Server.MaxRequestBytes = biMaxKey, biMaxValue, biMaxRequest
	})
}

// rawExchange writes in on a new connection to addr and reads what the
// server answers until it closes the connection (closed true) or 10 s
// pass (closed false: every caller expects the close, so the wait is
// only spent on failure). The write runs beside the read and its error
// is ignored: a server may refuse the input before it has read all of it.
func rawExchange(t *testing.T, addr string, in []byte) (reply string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	must(t, c.SetWriteDeadline(time.Now().Add(10*time.Second)))
	go c.Write(in)
	var out bytes.Buffer
	buf := make([]byte, 4096)
	must(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			return out.String(), false
		default:
			return out.String(), true
		}
	}
}

// TestBadInputRESP sends malformed and oversized RESP on raw connections:
// each gets Redis's protocol error line and its connection closed, after
// the replies to the commands before it; nothing is buffered past the
// limits, the protocol error counter moves, and the node keeps serving.
func TestBadInputRESP(t *testing.T) {
	n := openBadInputNode(t)
	big := func(k int) string { return strings.Repeat("x", k) }
	bulk := func(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
	cases := []struct {
		name, in, reply string
	}{
		{"bulk_length_overflow", "*1\r\n$9223372036854775807\r\nab\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk_length_not_int64", "*1\r\n$99999999999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk_length_line_too_long", "*1\r\n$" + strings.Repeat("0", 40) + "1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative_bulk_length", "*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk_length_not_a_number", "*2\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"oversized_bulk", fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", biMaxBulk+1), "-ERR Protocol error: invalid bulk length\r\n"},
		{"oversized_request", "*13\r\n" + bulk("MSET") + strings.Repeat(bulk(big(biMaxValue)), 12), "-ERR Protocol error: request too large (max 10000 bytes)\r\n"},
		{"oversized_array", "*2000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"zero_array", "*0\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"array_length_not_a_number", "*-5x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"length_line_without_cr", "*1\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"element_not_a_bulk", "*1\r\n+GET\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{"bulk_longer_than_declared", "*1\r\n$3\r\nGETTOOLONG\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"oversized_inline", big(70 << 10), "-ERR Protocol error: too big inline request\r\n"},
		{"inline_unbalanced_quotes", "GET \"k\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"replies_before_the_error", "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$-7\r\n", "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Server.m.protocolErrors.Load()
			reply, closed := rawExchange(t, n.Server.ClientAddr(), []byte(tc.in))
			if reply != tc.reply || !closed {
				t.Fatalf("reply %q (closed %v), want %q and the connection closed", reply, closed, tc.reply)
			}
			if tc.name == "inline_unbalanced_quotes" {
				return // redcon's own check: no framing limit was broken
			}
			if got := n.Server.m.protocolErrors.Load(); got != before+1 {
				t.Fatalf("protocol errors %d -> %d, want one more", before, got)
			}
		})
	}
	// The refused input left nothing behind: the node serves, and the
	// counter is exported.
	c := newClient(t, n, "")
	must(t, c.Set(t.Context(), "k", "v", 0).Err())
	_, body := httpDo(t, "GET", "http://"+n.Server.HTTPAddr()+"/metrics", "")
	want := fmt.Sprintf(`flotilla_resp_protocol_errors_total{node_id="1"} %d`, n.Server.m.protocolErrors.Load())
	if !strings.Contains(body, want) {
		t.Fatalf("/metrics lacks %q", want)
	}
}

// TestBadInputRESPOversizedBulkNotAwaited: an oversized bulk is refused
// as soon as its length line arrives, while the client still holds the
// connection open and has sent none of the bulk's bytes.
func TestBadInputRESPOversizedBulkNotAwaited(t *testing.T) {
	n := openBadInputNode(t)
	c, err := net.Dial("tcp", n.Server.ClientAddr())
	must(t, err)
	defer c.Close()
	_, err = c.Write([]byte("*2\r\n$4\r\nECHO\r\n$1000000000\r\n"))
	must(t, err)
	must(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("connection not closed: %v", err)
	}
}

// TestBadInputCommands sends well-framed commands the server refuses,
// through go-redis: each gets its error reply, counts in the error
// counter, and the connection stays usable.
func TestBadInputCommands(t *testing.T) {
	n := openBadInputNode(t)
	ctx := context.Background()
	c := newClient(t, n, "")
	must(t, c.Set(ctx, "text", "abc", 0).Err())
	must(t, c.Set(ctx, "max", "9223372036854775807", 0).Err())
	cases := []struct {
		name  string
		args  []any
		reply string
	}{
		{"unknown_command", []any{"NOSUCH", "a"}, "ERR unknown command 'nosuch', with args beginning with: 'a' "},
		{"unknown_command_with_newlines", []any{"NO\r\nSUCH"}, "ERR unknown command 'no  such', with args beginning with: "},
		{"wrong_arity", []any{"GET"}, "ERR wrong number of arguments for 'get' command"},
		{"wrong_arity_too_many", []any{"GET", "a", "b"}, "ERR wrong number of arguments for 'get' command"},
		{"mset_odd_arguments", []any{"MSET", "a", "1", "b"}, "ERR wrong number of arguments for 'mset' command"},
		{"incr_non_integer_value", []any{"INCR", "text"}, "ERR value is not an integer or out of range"},
		{"incrby_non_integer_argument", []any{"INCRBY", "k", "1.5"}, "ERR value is not an integer or out of range"},
		{"incr_overflow", []any{"INCR", "max"}, "ERR increment or decrement would overflow"},
		{"scan_cursor_not_a_number", []any{"SCAN", "abc"}, "ERR invalid cursor"},
		{"scan_cursor_unknown", []any{"SCAN", "987654321"}, "ERR invalid cursor"},
		{"scan_count_zero", []any{"SCAN", "0", "COUNT", "0"}, "ERR value is not an integer or out of range"},
		{"scan_option_unknown", []any{"SCAN", "0", "LIMIT", "3"}, "ERR syntax error"},
		{"set_option_unknown", []any{"SET", "k", "v", "FOREVER"}, "ERR syntax error"},
		{"set_nx_and_xx", []any{"SET", "k", "v", "NX", "XX"}, "ERR syntax error"},
		{"set_expiry", []any{"SET", "k", "v", "EX", "10"}, "ERR SET option EX is not supported"},
		{"key_too_large", []any{"GET", strings.Repeat("k", biMaxKey+1)}, "ERR key too large: 101 bytes (max 100)"},
		{"value_too_large", []any{"SET", "k", strings.Repeat("v", biMaxValue+1)}, "ERR value too large: 1001 bytes (max 1000)"},
		{"mset_one_value_too_large", []any{"MSET", "a", "1", "b", strings.Repeat("v", biMaxValue+1)}, "ERR value too large"},
		{"select_other_db", []any{"SELECT", "1"}, "ERR DB index is out of range"},
		{"resp3", []any{"HELLO", "3"}, "NOPROTO"},
		{"config_set", []any{"CONFIG", "SET", "maxmemory", "1"}, "ERR CONFIG SET is not supported"},
		{"auth_without_password", []any{"AUTH", "pw"}, "ERR AUTH <password> called without any password"},
	}
	conn := c.Conn()
	defer conn.Close()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Server.m.errors.Load()
			wantErr(t, conn.Do(ctx, tc.args...).Err(), tc.reply)
			if got := n.Server.m.errors.Load(); got != before+1 {
				t.Fatalf("error counter %d -> %d, want one more", before, got)
			}
			must(t, conn.Ping(ctx).Err())
		})
	}
	// Refused writes changed nothing.
	for k, want := range map[string]string{"text": "abc", "max": "9223372036854775807"} {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != want {
			t.Fatalf("%s = %q, %v; want %q", k, v, err, want)
		}
	}
	if nk, err := c.Exists(ctx, "k", "a", "b").Result(); err != nil || nk != 0 {
		t.Fatalf("refused writes created %d keys (%v)", nk, err)
	}
}

// TestBadInputRESPFramerChunks feeds valid RESP streams to the framer cut
// at random places: it never refuses them. Seeded; the seed is logged on
// failure.
func TestBadInputRESPFramerChunks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 9))
	valid := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nPING\r\n\r\n*1\r\n$4\r\nPING\r\nECHO hi\n*2\r\n$4\r\nECHO\r\n$" +
		fmt.Sprint(biMaxBulk) + "\r\n" + strings.Repeat("y", biMaxBulk) + "\r\n"
	for range 200 {
		f := respFramer{lim: respLimits{maxBulk: biMaxBulk, maxRequest: biMaxRequest}}
		in := []byte(valid)
		for len(in) > 0 {
			k := 1 + r.IntN(min(len(in), 64))
			if ok, err := f.feed(in[:k]); err != nil || ok != k {
				t.Fatalf("seed %d: valid input refused at %q: %d, %v", seed, in[:k], ok, err)
			}
			in = in[k:]
		}
		if f.state != frStart {
			t.Fatalf("seed %d: framer ends in state %d", seed, f.state)
		}
	}
}

// TestBadInputHTTP sends the admin API requests it refuses: each gets
// its status and a JSON error, and changes nothing.
func TestBadInputHTTP(t *testing.T) {
	n := openBadInputNode(t)
	base := "http://" + n.Server.HTTPAddr()
	cases := []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"unknown_path", "GET", "/api/nosuch", "", http.StatusNotFound, "404 page not found"},
		{"wrong_method", "POST", "/api/kv/k", "v", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"wrong_method_admin", "GET", "/api/admin/split?shard=1", "", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"key_too_large", "PUT", "/api/kv/" + strings.Repeat("k", biMaxKey+1), "v", http.StatusBadRequest, `"error": "key too large: 101 bytes (max 100)"`},
		{"value_too_large", "PUT", "/api/kv/k", strings.Repeat("v", biMaxValue+1), http.StatusRequestEntityTooLarge, `"error": "value larger than 1000 bytes"`},
		{"scan_limit_not_a_number", "GET", "/api/scan?limit=x", "", http.StatusBadRequest, `"error": "limit must be a positive integer"`},
		{"scan_limit_zero", "GET", "/api/scan?limit=0", "", http.StatusBadRequest, `"error": "limit must be a positive integer"`},
		{"admin_without_placement", "POST", "/api/admin/move?shard=1&from=1&to=2", "", http.StatusNotImplemented, "static cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := httpDo(t, tc.method, base+tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Fatalf("%s %s = %d %s; want %d with %q", tc.method, tc.path, code, body, tc.code, tc.says)
			}
		})
	}
	t.Run("oversized_headers", func(t *testing.T) {
		req := "GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("h", 2<<20) + "\r\n\r\n"
		reply, closed := rawExchange(t, n.Server.HTTPAddr(), []byte(req))
		if !strings.HasPrefix(reply, "HTTP/1.1 431 Request Header Fields Too Large") || !closed {
			t.Fatalf("got %q (closed %v)", reply, closed)
		}
	})
	t.Run("not_http", func(t *testing.T) {
		reply, closed := rawExchange(t, n.Server.HTTPAddr(), []byte("*1\r\n$4\r\nPING\r\n"))
		if !strings.HasPrefix(reply, "HTTP/1.1 400 Bad Request") || !closed {
			t.Fatalf("got %q (closed %v)", reply, closed)
		}
	})
	if _, found, err := n.Store.Get(t.Context(), []byte("k")); err != nil || found {
		t.Fatalf("a refused request wrote k (found %v, %v)", found, err)
	}
	if code, _ := httpDo(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz = %d after bad input", code)
	}
}

// TestBadInputRedisClient: a real client's oversized value is refused
// on an open connection below MaxBulkBytes and with a closed connection
// above it; either way the client reads the error line (not a reset,
// though it is still writing the value when the server refuses it), and
// the client, with its default options, goes on working.
func TestBadInputRedisClient(t *testing.T) {
	n := openBadInputNode(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: n.Server.ClientAddr(), Protocol: 2, PoolSize: 1})
	defer c.Close()
	wantErr(t, c.Set(ctx, "k", strings.Repeat("v", biMaxBulk), 0).Err(), "ERR value too large")
	for range 5 {
		wantErr(t, c.Set(ctx, "k", strings.Repeat("v", 1<<20), 0).Err(), "ERR Protocol error: invalid bulk length")
		must(t, c.Set(ctx, "k", "v", 0).Err())
	}
}

// TestBadInputAdminParams sends the placement admin API malformed query
// parameters over HTTP: each is answered 400 naming the parameter, before
// the operation runs. (The placement node is a zero value: an operation
// that got past its parameters would touch it and fail the test.)
func TestBadInputAdminParams(t *testing.T) {
	s := &Server{opts: Options{Placement: &placement.Node{}}}
	mux := http.NewServeMux()
	s.registerAdmin(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct{ name, path, says string }{
		{"rebalance_dry_run_not_bool", "/api/admin/rebalance?dry_run=maybe", `dry_run=\"maybe\" is not true or false`},
		{"drain_node_missing", "/api/admin/drain", `node=\"\" is not a number`},
		{"drain_node_zero", "/api/admin/drain?node=0", "node must be a node ID"},
		{"drain_wait_not_bool", "/api/admin/drain?node=2&wait=soon", `wait=\"soon\" is not true or false`},
		{"move_shard_negative", "/api/admin/move?shard=-1&from=1&to=2", `shard=\"-1\" is not a number`},
		{"move_to_missing", "/api/admin/move?shard=1&from=1", `to=\"\" is not a number`},
		{"split_shard_too_big", "/api/admin/split?shard=99999999999999999999999", "is not a number"},
		{"transfer_to_not_a_number", "/api/admin/transfer-leader?shard=1&to=three", `to=\"three\" is not a number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := httpDo(t, "POST", srv.URL+tc.path, "")
			if code != http.StatusBadRequest || !strings.Contains(body, tc.says) {
				t.Fatalf("POST %s = %d %s; want 400 saying %s", tc.path, code, body, tc.says)
			}
		})
	}
}
