package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilladb/flotilla/shard"
)

// TestRESPSingleNode and TestRESPCluster run every command through
// go-redis against a real store: one node, and three over TCP (where most
// requests reach a node that does not lead the key's shard and are
// forwarded).
func TestRESPSingleNode(t *testing.T) {
	n := openSingle(t, nil)
	testCommands(t, newClient(t, n, ""))
}

func TestRESPCluster(t *testing.T) {
	nodes := openCluster(t)
	for _, n := range nodes {
		t.Run(fmt.Sprintf("node%d", n.Store.NodeID()), func(t *testing.T) {
			c := newClient(t, n, "")
			if err := c.FlushAll(context.Background()).Err(); err == nil {
				t.Fatal("FLUSHALL unexpectedly accepted")
			}
			clearKeys(t, c)
			testCommands(t, c)
		})
	}
	// A write through one node is read through the others.
	ctx := context.Background()
	c1, c2, c3 := newClient(t, nodes[0], ""), newClient(t, nodes[1], ""), newClient(t, nodes[2], "")
	for i := 0; i < 40; i++ {
		must(t, c1.Set(ctx, key(i*250), fmt.Sprint(i), 0).Err())
	}
	for i := 0; i < 40; i++ {
		for _, c := range []*redis.Client{c2, c3} {
			if v, err := c.Get(ctx, key(i*250)).Result(); err != nil || v != fmt.Sprint(i) {
				t.Fatalf("get %s = %q, %v", key(i*250), v, err)
			}
		}
	}
}

func clearKeys(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	keys, err := scanAll(c, "*", 100)
	must(t, err)
	if len(keys) > 0 {
		must(t, c.Del(ctx, keys...).Err())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err error, prefix string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %v, want prefix %q", err, prefix)
	}
}

func testCommands(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	if v, err := c.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("PING = %q, %v", v, err)
	}
	if v, err := c.Echo(ctx, "a\r\nb").Result(); err != nil || v != "a\r\nb" {
		t.Fatalf("ECHO = %q, %v", v, err)
	}
	t.Run("set-get", func(t *testing.T) { testSetGet(t, c) })
	t.Run("set-options", func(t *testing.T) { testSetOptions(t, c) })
	t.Run("multi-key", func(t *testing.T) { testMultiKey(t, c) })
	t.Run("incr", func(t *testing.T) { testIncr(t, c) })
	t.Run("scan", func(t *testing.T) { testScan(t, c) })
	t.Run("admin", func(t *testing.T) { testAdmin(t, c) })
	t.Run("pipeline", func(t *testing.T) { testPipeline(t, c) })
	t.Run("errors", func(t *testing.T) { testErrors(t, c) })
}

func testSetGet(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	must(t, c.Set(ctx, "k0001", "v1", 0).Err())
	if v, err := c.Get(ctx, "k0001").Result(); err != nil || v != "v1" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "absent").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET absent: %v, want nil reply", err)
	}
	bin := string([]byte{0, 1, 2, 0xff, '\r', '\n'})
	must(t, c.Set(ctx, bin, bin, 0).Err())
	if v, err := c.Get(ctx, bin).Result(); err != nil || v != bin {
		t.Fatalf("binary GET = %q, %v", v, err)
	}
	must(t, c.Set(ctx, "", "empty key", 0).Err())
	if v, _ := c.Get(ctx, "").Result(); v != "empty key" {
		t.Fatalf("empty key = %q", v)
	}
	must(t, c.Del(ctx, bin, "", "k0001").Err())
}

func testSetOptions(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	if ok, err := c.SetNX(ctx, "k0100", "a", 0).Result(); err != nil || !ok {
		t.Fatalf("SETNX new = %v, %v", ok, err)
	}
	if ok, err := c.SetNX(ctx, "k0100", "b", 0).Result(); err != nil || ok {
		t.Fatalf("SETNX existing = %v, %v", ok, err)
	}
	if ok, err := c.SetXX(ctx, "k0101", "x", 0).Result(); err != nil || ok {
		t.Fatalf("SETXX absent = %v, %v", ok, err)
	}
	if ok, err := c.SetXX(ctx, "k0100", "c", 0).Result(); err != nil || !ok {
		t.Fatalf("SETXX existing = %v, %v", ok, err)
	}
	if v, err := c.SetArgs(ctx, "k0100", "d", redis.SetArgs{Get: true}).Result(); err != nil || v != "c" {
		t.Fatalf("SET GET = %q, %v", v, err)
	}
	if _, err := c.SetArgs(ctx, "k0102", "d", redis.SetArgs{Get: true}).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("SET GET on absent: %v, want nil", err)
	}
	if v, err := c.SetArgs(ctx, "k0100", "e", redis.SetArgs{Mode: "NX", Get: true}).Result(); err != nil || v != "d" {
		t.Fatalf("SET NX GET existing = %q, %v", v, err)
	}
	if v, err := c.SetArgs(ctx, "k0100", "f", redis.SetArgs{Mode: "XX", Get: true}).Result(); err != nil || v != "d" {
		t.Fatalf("SET XX GET = %q, %v", v, err)
	}
	if v, _ := c.Get(ctx, "k0100").Result(); v != "f" {
		t.Fatalf("after SET XX GET: %q", v)
	}
	wantErr(t, c.Set(ctx, "k0100", "g", 10_000_000_000).Err(), "ERR SET option EX is not supported")
	wantErr(t, c.Do(ctx, "SET", "k0100", "g", "KEEPTTL").Err(), "ERR SET option KEEPTTL is not supported")
	wantErr(t, c.Do(ctx, "SET", "k0100", "g", "NX", "XX").Err(), "ERR syntax error")
	wantErr(t, c.Do(ctx, "SET", "k0100", "g", "BOGUS").Err(), "ERR syntax error")
	must(t, c.Del(ctx, "k0100", "k0102").Err())
}

func testMultiKey(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	// Keys of different shards (splits at k2500, k5000, k7500).
	must(t, c.MSet(ctx, "k0200", "a", "k2600", "b", "k9000", "c").Err())
	// Keys of one shard: written in one atomic command.
	must(t, c.MSet(ctx, "k0201", "x", "k0202", "y").Err())
	vals, err := c.MGet(ctx, "k0200", "nope", "k2600", "k9000", "k0202").Result()
	must(t, err)
	want := []any{"a", nil, "b", "c", "y"}
	if fmt.Sprint(vals) != fmt.Sprint(want) {
		t.Fatalf("MGET = %v, want %v", vals, want)
	}
	// An empty value is found, a repeated key answered at each place.
	must(t, c.Set(ctx, "k0204", "", 0).Err())
	vals, err = c.MGet(ctx, "k0204", "nope", "k0204").Result()
	if err != nil || fmt.Sprintf("%q", vals) != fmt.Sprintf("%q", []any{"", nil, ""}) {
		t.Fatalf("MGET of an empty value = %q, %v", vals, err)
	}
	must(t, c.Del(ctx, "k0204").Err())
	many := make([]string, shard.MaxGetManyKeys+1)
	for i := range many {
		many[i] = key(i % 10000)
	}
	wantErr(t, c.MGet(ctx, many...).Err(), "ERR MGET of 4097 keys: at most 4096 per command")
	if vals, err := c.MGet(ctx, many[:shard.MaxGetManyKeys]...).Result(); err != nil || len(vals) != shard.MaxGetManyKeys || vals[200] != "a" {
		t.Fatalf("MGET of %d keys: %d values (%v), %v", shard.MaxGetManyKeys, len(vals), vals[200], err)
	}
	wantErr(t, c.MGet(ctx, "k0200", strings.Repeat("x", DefaultMaxKeyBytes+1)).Err(), "ERR key too large")
	if n, err := c.Exists(ctx, "k0200", "nope", "k9000", "k9000").Result(); err != nil || n != 3 {
		t.Fatalf("EXISTS = %d, %v", n, err)
	}
	if n, err := c.Del(ctx, "k0200", "nope", "k2600", "k9000", "k0201", "k0202").Result(); err != nil || n != 5 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	if n, _ := c.Exists(ctx, "k0200", "k2600").Result(); n != 0 {
		t.Fatalf("EXISTS after DEL = %d", n)
	}
	// A repeated key: the last value wins, as in Redis.
	must(t, c.MSet(ctx, "k0203", "first", "k9001", "x", "k0203", "last").Err())
	if v, _ := c.Get(ctx, "k0203").Result(); v != "last" {
		t.Fatalf("MSET with a repeated key left %q", v)
	}
	if n, _ := c.Del(ctx, "k0203", "k0203", "k9001").Result(); n != 2 {
		t.Fatalf("DEL with a repeated key = %d, want 2", n)
	}
	wantErr(t, c.Do(ctx, "MSET", "a", "1", "b").Err(), "ERR wrong number of arguments")
}

func testIncr(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	steps := []struct {
		cmd  *redis.IntCmd
		want int64
	}{
		{c.Incr(ctx, "k0300"), 1}, {c.IncrBy(ctx, "k0300", 41), 42},
		{c.Decr(ctx, "k0300"), 41}, {c.DecrBy(ctx, "k0300", 50), -9},
		{c.DecrBy(ctx, "k0301", -5), 5},
	}
	for i, s := range steps {
		if v, err := s.cmd.Result(); err != nil || v != s.want {
			t.Fatalf("step %d: %d, %v; want %d", i, v, err, s.want)
		}
	}
	must(t, c.Set(ctx, "k0302", "abc", 0).Err())
	wantErr(t, c.Incr(ctx, "k0302").Err(), "ERR value is not an integer or out of range")
	must(t, c.Set(ctx, "k0302", "9223372036854775807", 0).Err())
	wantErr(t, c.Incr(ctx, "k0302").Err(), "ERR increment or decrement would overflow")
	wantErr(t, c.Do(ctx, "INCRBY", "k0302", "1.5").Err(), "ERR value is not an integer")
	wantErr(t, c.Do(ctx, "DECRBY", "k0302", "-9223372036854775808").Err(), "ERR value is not an integer")
	must(t, c.Del(ctx, "k0300", "k0301", "k0302").Err())
}

// scanAll iterates SCAN to the end.
func scanAll(c *redis.Client, match string, count int64) ([]string, error) {
	var all []string
	var cursor uint64
	for {
		keys, next, err := c.Scan(context.Background(), cursor, match, count).Result()
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
		if next == 0 {
			return all, nil
		}
		cursor = next
	}
}

func testScan(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	var want []string
	for i := 0; i < 10000; i += 397 {
		want = append(want, key(i))
		must(t, c.Set(ctx, key(i), "v", 0).Err())
	}
	must(t, c.Set(ctx, "user:1", "u", 0).Err())
	must(t, c.Set(ctx, "user:2", "u", 0).Err())
	got, err := scanAll(c, "k*", 3)
	must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("SCAN MATCH k* = %v, want %v", got, want)
	}
	got, err = scanAll(c, "user:*", 1)
	must(t, err)
	if !slices.Equal(got, []string{"user:1", "user:2"}) {
		t.Fatalf("SCAN MATCH user:* = %v", got)
	}
	got, err = scanAll(c, "k?[0-1]*", 1000)
	must(t, err)
	for _, k := range got {
		if k[2] != '0' && k[2] != '1' {
			t.Fatalf("SCAN MATCH k?[0-1]* returned %q", k)
		}
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != int64(len(want)+2) {
		t.Fatalf("DBSIZE = %d, %v; want %d", n, err, len(want)+2)
	}
	wantErr(t, c.Do(ctx, "SCAN", "123456789").Err(), "ERR invalid cursor")
	wantErr(t, c.Do(ctx, "SCAN", "0", "COUNT", "0").Err(), "ERR value is not an integer")
	if keys, _, err := c.ScanType(ctx, 0, "", 100, "hash").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("SCAN TYPE hash = %v, %v", keys, err)
	}
	must(t, c.Del(ctx, append(want, "user:1", "user:2")...).Err())
}

func testAdmin(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	info, err := c.Info(ctx).Result()
	must(t, err)
	for _, s := range []string{"# Server", "redis_version:", "# Cluster", "flotilla_node_id:", "# Stats", "flotilla_proposals:"} {
		if !strings.Contains(info, s) {
			t.Fatalf("INFO lacks %q:\n%s", s, info)
		}
	}
	if info, _ := c.Info(ctx, "stats").Result(); strings.Contains(info, "# Server") {
		t.Fatal("INFO stats printed the server section")
	}
	if n, err := c.Do(ctx, "COMMAND", "COUNT").Int(); err != nil || n < 20 {
		t.Fatalf("COMMAND COUNT = %d, %v", n, err)
	}
	if v, err := c.Do(ctx, "COMMAND", "DOCS").Slice(); err != nil || len(v) != 0 {
		t.Fatalf("COMMAND DOCS = %v, %v", v, err)
	}
	cmds, err := c.Command(ctx).Result()
	must(t, err)
	if g := cmds["get"]; g == nil || g.Arity != 2 || !g.ReadOnly {
		t.Fatalf("COMMAND get = %+v", g)
	}
	must(t, c.Do(ctx, "CLIENT", "SETNAME", "tester").Err())
	must(t, c.Do(ctx, "CLIENT", "SETINFO", "LIB-NAME", "x").Err())
	must(t, c.Do(ctx, "SELECT", "0").Err())
	wantErr(t, c.Do(ctx, "SELECT", "1").Err(), "ERR DB index is out of range")
	wantErr(t, c.Do(ctx, "HELLO", "3").Err(), "NOPROTO")
}

func testPipeline(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	p := c.Pipeline()
	for i := 0; i < 200; i++ {
		p.Set(ctx, key(5000+i), fmt.Sprint(i), 0)
		p.Incr(ctx, "k0400")
	}
	gets := make([]*redis.StringCmd, 200)
	for i := range gets {
		gets[i] = p.Get(ctx, key(5000+i))
	}
	p.Do(ctx, "NOSUCH")
	if _, err := p.Exec(ctx); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("pipeline: %v, want the unknown command error", err)
	}
	for i, g := range gets {
		if v, err := g.Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("pipelined GET %d = %q, %v", i, v, err)
		}
	}
	if v, _ := c.Get(ctx, "k0400").Int(); v != 200 {
		t.Fatalf("pipelined INCR = %d", v)
	}
	keys := []string{"k0400"}
	for i := 0; i < 200; i++ {
		keys = append(keys, key(5000+i))
	}
	must(t, c.Del(ctx, keys...).Err())
}

func testErrors(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	wantErr(t, c.Do(ctx, "NOSUCH", "a").Err(), "ERR unknown command 'nosuch', with args beginning with: 'a'")
	wantErr(t, c.Do(ctx, "GET").Err(), "ERR wrong number of arguments for 'get' command")
	wantErr(t, c.Do(ctx, "GET", "a", "b").Err(), "ERR wrong number of arguments")
	wantErr(t, c.Do(ctx, "AUTH", "pw").Err(), "ERR AUTH <password> called without any password")
	wantErr(t, c.Do(ctx, "CONFIG", "SET", "x", "y").Err(), "ERR CONFIG SET is not supported")
	wantErr(t, c.Set(ctx, strings.Repeat("k", DefaultMaxKeyBytes+1), "v", 0).Err(), "ERR key too large")
	// The connection is still usable after errors.
	must(t, c.Ping(ctx).Err())
}

func TestRESPAuth(t *testing.T) {
	n := openSingle(t, func(o *NodeOptions) { o.Server.Password = "s3cret" })
	ctx := context.Background()
	anon := newClient(t, n, "")
	wantErr(t, anon.Get(ctx, "k").Err(), "NOAUTH")
	wantErr(t, anon.Do(ctx, "AUTH", "wrong").Err(), "WRONGPASS")
	wantErr(t, anon.Do(ctx, "AUTH", "bob", "s3cret").Err(), "WRONGPASS")
	c := newClient(t, n, "s3cret")
	must(t, c.Set(ctx, "k", "v", 0).Err())
	if v, _ := c.Get(ctx, "k").Result(); v != "v" {
		t.Fatalf("GET after AUTH = %q", v)
	}
}

// TestRESPConcurrentIncr checks INCR loses no update under concurrency,
// through every node of a cluster at once.
func TestRESPConcurrentIncr(t *testing.T) {
	nodes := openCluster(t)
	const workers, each = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		c := newClient(t, nodes[w%len(nodes)], "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := c.Incr(context.Background(), "k5555").Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, err := newClient(t, nodes[0], "").Get(context.Background(), "k5555").Int(); err != nil || v != workers*each {
		t.Fatalf("counter = %d, %v; want %d", v, err, workers*each)
	}
}

func TestRESPQuit(t *testing.T) {
	n := openSingle(t, nil)
	c := newClient(t, n, "")
	ctx := context.Background()
	conn := c.Conn()
	defer conn.Close()
	if v, err := conn.Do(ctx, "QUIT").Text(); err != nil || v != "OK" {
		t.Fatalf("QUIT = %q, %v", v, err)
	}
	if err := conn.Ping(ctx).Err(); err == nil {
		t.Fatal("the connection served a command after QUIT")
	}
}

func TestRESPMaxClients(t *testing.T) {
	n := openSingle(t, func(o *NodeOptions) { o.Server.MaxClients = 1 })
	ctx := context.Background()
	conn := newClient(t, n, "").Conn()
	defer conn.Close()
	must(t, conn.Ping(ctx).Err())
	raw, err := net.Dial("tcp", n.Server.ClientAddr())
	must(t, err)
	defer raw.Close()
	must(t, raw.SetReadDeadline(time.Now().Add(10*time.Second)))
	line, err := bufio.NewReader(raw).ReadString('\n')
	if err != nil || line != "-ERR max number of clients reached\r\n" {
		t.Fatalf("second connection got %q, %v", line, err)
	}
}
