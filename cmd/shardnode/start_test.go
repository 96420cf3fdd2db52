package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/internal/testnet"
	"github.com/redis/go-redis/v9"
)

// freeAddrs returns n free loopback addresses (internal/testnet: ports
// below the ephemeral range, so no outgoing connection takes one first).
func freeAddrs(t *testing.T, n int) []string { return testnet.FreeAddrs(t, n) }

// TestStartStaticCluster runs three `start` processes forming a static
// cluster, writes through one node and reads through another, kills one
// with SIGKILL, writes more, restarts it and reads everything through it.
func TestStartStaticCluster(t *testing.T) {
	a := freeAddrs(t, 9)
	raft, resp, http := a[0:3], a[3:6], a[6:9]
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("%d=%s", i+1, raft[i]))
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	start := func(i int) *proc {
		p := startProc(t, shardnodeBin, "start", "--id", fmt.Sprint(i+1), "--data-dir", dirs[i],
			"--client-addr", resp[i], "--http-addr", http[i], "--shards", "4", "--log-level", "warn",
			"--peers", strings.Join(peers, ","))
		p.waitLine(t, fmt.Sprintf("node %d:", i+1), 30*time.Second)
		return p
	}
	procs := []*proc{start(0), start(1), start(2)}
	ctx := context.Background()
	c1 := redis.NewClient(&redis.Options{Addr: resp[0], Protocol: 2})
	defer c1.Close()
	for i := 0; i < 20; i++ {
		setRetrying(t, c1, keyFor(i), fmt.Sprint(i))
	}
	_ = procs[2].cmd.Process.Kill()
	<-procs[2].done
	for i := 20; i < 30; i++ {
		setRetrying(t, c1, keyFor(i), fmt.Sprint(i))
	}
	procs[2] = start(2)
	c3 := redis.NewClient(&redis.Options{Addr: resp[2], Protocol: 2})
	defer c3.Close()
	for i := 0; i < 30; i++ {
		k := keyFor(i)
		if v := getRetrying(t, c3, k); v != fmt.Sprint(i) {
			t.Fatalf("%s = %q through the restarted node, want %d", k, v, i)
		}
	}
	if n, err := c3.DBSize(ctx).Result(); err != nil || n != 30 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	for _, p := range procs {
		p.interrupt(t)
	}
}

// setRetrying and getRetrying retry while shards elect leaders (a
// Redis error reply), up to a deadline.
func setRetrying(t *testing.T, c *redis.Client, k, v string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Set(context.Background(), k, v, 0).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET %s: %v", k, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getRetrying(t *testing.T, c *redis.Client, k string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := c.Get(context.Background(), k).Result()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", k, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keyFor spreads 30 keys over the default split of shardnode's key space.
func keyFor(i int) string { return fmt.Sprintf("key:%012d", i*33_000_000_000+i) }
