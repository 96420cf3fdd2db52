package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilladb/flotilla/server"
)

// TestGossipClusterProcesses runs a placement-managed cluster of real
// `start` processes: three form a new cluster with --bootstrap-expect,
// a fourth joins and is given replicas by the driver, and the admin
// commands (rebalance --dry-run, split, transfer-leader, drain) work
// against it through any node.
func TestGossipClusterProcesses(t *testing.T) {
	a := freeAddrs(t, 16)
	raft, gsp, resp, http := a[0:4], a[4:8], a[8:12], a[12:16]
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()}
	start := func(i int) *proc {
		p := startProc(t, shardnodeBin, "start", "--id", fmt.Sprint(i+1), "--data-dir", dirs[i],
			"--raft-addr", raft[i], "--gossip-addr", gsp[i], "--join", gsp[0], "--bootstrap-expect", "3",
			"--client-addr", resp[i], "--http-addr", http[i], "--shards", "6", "--log-level", "warn")
		return p
	}
	var procs []*proc
	for i := range 3 {
		procs = append(procs, start(i))
	}
	for i, p := range procs {
		p.waitLine(t, fmt.Sprintf("node %d:", i+1), 60*time.Second)
	}
	c1 := redis.NewClient(&redis.Options{Addr: resp[0], Protocol: 2})
	defer c1.Close()
	for i := range 30 {
		setRetrying(t, c1, keyFor(i), fmt.Sprint(i))
	}
	cluster := func(addr string) server.ClusterStatus {
		var st server.ClusterStatus
		out := run(t, shardnodeBin, "status", "--addr", addr, "--json")
		_ = out
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f := clientFlags{addr: addr, timeout: 10 * time.Second}
		if _, err := f.do(ctx, "GET", "/api/cluster", nil, &st); err != nil {
			t.Fatalf("GET /api/cluster: %v", err)
		}
		return st
	}
	waitCluster := func(what string, cond func(st server.ClusterStatus) bool) server.ClusterStatus {
		deadline := time.Now().Add(90 * time.Second)
		var st server.ClusterStatus
		for time.Now().Before(deadline) {
			if st = cluster(http[0]); cond(st) {
				return st
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s: %+v", what, st)
		return st
	}
	procs = append(procs, start(3))
	procs[3].waitLine(t, "node 4:", 60*time.Second)
	st := waitCluster("node 4 to get replicas", func(st server.ClusterStatus) bool {
		for _, n := range st.Nodes {
			if n.ID == 4 && n.Replicas >= 3 && len(st.Moves) == 0 {
				return true
			}
		}
		return false
	})
	t.Logf("after node 4 joined: %+v", st.Nodes)

	// /metrics carries the transport's and placement's counters.
	mresp, err := nethttp.Get("http://" + http[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"flotilla_transport_heartbeat_frames_sent_total", "flotilla_placement_meta_refreshes_total", "flotilla_wal_fsyncs_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The bench harness runs against the running cluster.
	out0 := run(t, shardnodeBin, "bench", "-scenario", "write", "-addrs", strings.Join(resp, ","),
		"-groups", "6", "-clients", "4", "-size", "16", "-duration", "1s")
	var res struct {
		System   string  `json:"system"`
		Workload string  `json:"workload"`
		Ops      int     `json:"ops"`
		Rate     float64 `json:"ops_per_sec"`
	}
	line := out0
	if i := strings.Index(out0, "{"); i >= 0 {
		line = out0[i:] // (the progress lines come first, on stderr)
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &res); err != nil || res.Workload != "write" || res.Ops == 0 {
		t.Fatalf("shardnode bench printed %q (%v)", out0, err)
	}

	// The plan of a balanced cluster is empty.
	out := run(t, shardnodeBin, "rebalance", "--dry-run", "--addr", http[1])
	var plan struct{ Actions []string }
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("rebalance output %q: %v", out, err)
	}

	// Split the first shard at a key, through node 2.
	sh := st.Shards[0]
	out = run(t, shardnodeBin, "split", "--shard", fmt.Sprint(sh.ID), "--key", keyFor(1), "--addr", http[1])
	if !strings.Contains(out, "new_shard") {
		t.Fatalf("split said %q", out)
	}
	waitCluster("the split to show", func(st server.ClusterStatus) bool { return len(st.Shards) == 7 })

	// Drain node 4 and wait; then nothing is left on it and every key reads.
	run(t, shardnodeBin, "drain", "--node", "4", "--wait", "--addr", http[0])
	waitCluster("node 4 to be empty", func(st server.ClusterStatus) bool {
		for _, n := range st.Nodes {
			if n.ID == 4 {
				return n.Replicas == 0 && n.State == server.NodeDraining
			}
		}
		return false
	})
	c4 := redis.NewClient(&redis.Options{Addr: resp[3], Protocol: 2})
	defer c4.Close()
	for i := range 30 {
		if got := getRetrying(t, c4, keyFor(i)); got != fmt.Sprint(i) {
			t.Fatalf("%s = %q through the drained node", keyFor(i), got)
		}
	}
	for _, p := range procs {
		p.interrupt(t)
	}
}
