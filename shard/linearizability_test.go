package shard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

var (
	linSeedFlag    = flag.Uint64("lin.seed", 0, "seed of the linearizability and crash tests (0: from the clock)")
	linHistoryFlag = flag.String("lin.history", "", "where a failing linearizability test writes its history (HTML); default a file in the test's temp dir")
	linDuration    = flag.Duration("lin.duration", 0, "how long each linearizability workload runs (0: a few seconds, halved by -short)")
)

// linTestSeed returns -lin.seed or a seed from the clock, and makes sure
// a failure names it.
func linTestSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *linSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -lin.seed=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: rerun with -run '^%s$' -lin.seed=%d", seed, t.Name(), seed)
		}
	})
	return seed
}

// checkLinearizable checks history against the register model; on a
// violation it writes the visualization and fails with its path.
func checkLinearizable(t *testing.T, seed uint64, history []porcupine.Operation, events []porcupine.Annotation) {
	t.Helper()
	timeout := 60 * time.Second
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel(), history, timeout)
	t.Logf("porcupine: %v in %v (%d operations)", res, time.Since(start).Round(time.Millisecond), len(history))
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Logf("seed %d: the check timed out after %v: inconclusive", seed, timeout)
	case porcupine.Illegal:
		path := *linHistoryFlag
		if path == "" {
			path = filepath.Join(t.TempDir(), "history.html")
		}
		info.AddAnnotations(events)
		if err := porcupine.VisualizePath(linModel(), info, path); err != nil {
			t.Errorf("writing the history: %v", err)
		}
		logIllegalKeys(t, history, events)
		t.Fatalf("seed %d: the history is not linearizable; see %s", seed, path)
	}
}

// logIllegalKeys logs, for each key whose history alone is not
// linearizable, its operations in call order and the faults injected.
func logIllegalKeys(t *testing.T, history []porcupine.Operation, events []porcupine.Annotation) {
	ms := func(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
	for _, part := range linPartition(history) {
		if porcupine.CheckOperations(linModel(), part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		var b strings.Builder
		for _, op := range part {
			fmt.Fprintf(&b, "\n  client %2d [%s, %s] %s", op.ClientId, ms(op.Call), ms(op.Return), linDescribe(op.Input, op.Output))
		}
		t.Logf("key %s is not linearizable:%s", part[0].Input.(linInput).key, b.String())
	}
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %s %s", ms(e.Start), e.Description)
	}
	t.Logf("faults:%s", b.String())
}

func TestLinearizable3Nodes(t *testing.T) {
	runLinearizability(t, linConfig{nodes: 3, shards: 8, keys: 12, clients: 6, duration: 3 * time.Second, maxDown: 1})
}

func TestLinearizable5Nodes(t *testing.T) {
	runLinearizability(t, linConfig{nodes: 5, shards: 8, keys: 12, clients: 8, duration: 3 * time.Second, maxDown: 2})
}

// TestLinearizableLeaseReads: with Options.LeaseReads, Lease reads are
// served from the leader's lease without a heartbeat round; they must
// still be linearizable (all nodes share one clock here, so the lease's
// clock-drift assumption holds).
func TestLinearizableLeaseReads(t *testing.T) {
	runLinearizability(t, linConfig{nodes: 3, shards: 8, keys: 12, clients: 6, duration: 3 * time.Second, maxDown: 1, leaseReads: true})
}

// TestLinearizableSlowDisks: the same workload and nemesis with every
// node's WAL and pebble on a file system that delays writes and syncs,
// one node's much more than the others' (a slow disk).
func TestLinearizableSlowDisks(t *testing.T) {
	runLinearizability(t, linConfig{nodes: 3, shards: 8, keys: 12, clients: 6, duration: 3 * time.Second, maxDown: 1, slowDisk: true})
}

// TestLinearizabilityModel shows the checker can fail: histories a correct
// store cannot produce are Illegal, and the ones it can are Ok.
func TestLinearizabilityModel(t *testing.T) {
	op := func(client int, in linInput, call, ret int64, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	put := func(v string) linInput { return linInput{kind: linPut, key: "k", value: v} }
	get := linInput{kind: linGet, key: "k"}
	cas := func(exp, v string) linInput { return linInput{kind: linCAS, key: "k", expected: exp, value: v} }
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"read own write", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, get, 2, 3, linOutput{ok: true, value: "a"})}, porcupine.Ok},
		{"stale read after a write returned", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, put("b"), 2, 3, linOutput{ok: true}),
			op(1, get, 4, 5, linOutput{ok: true, value: "a"})}, porcupine.Illegal},
		{"concurrent read may see either", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, put("b"), 2, 6, linOutput{ok: true}),
			op(1, get, 3, 4, linOutput{ok: true, value: "a"})}, porcupine.Ok},
		{"cas succeeds on the current value", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, cas("a", "b"), 2, 3, linOutput{ok: true}),
			op(0, get, 4, 5, linOutput{ok: true, value: "b"})}, porcupine.Ok},
		{"cas cannot succeed on another value", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, cas("x", "b"), 2, 3, linOutput{ok: true})}, porcupine.Illegal},
		{"failed cas must report the current value", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, cas("x", "b"), 2, 3, linOutput{value: "z"})}, porcupine.Illegal},
		{"cas delete", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}), op(0, cas("a", ""), 2, 3, linOutput{ok: true}),
			op(0, get, 4, 5, linOutput{ok: true})}, porcupine.Ok},
		{"unknown write may have happened", []porcupine.Operation{
			op(0, put("a"), 0, 100, linOutput{unknown: true}), op(1, get, 4, 5, linOutput{ok: true, value: "a"}),
			op(1, get, 6, 7, linOutput{ok: true, value: "a"})}, porcupine.Ok},
		{"unknown write may not have happened", []porcupine.Operation{
			op(0, put("a"), 0, 100, linOutput{unknown: true}), op(1, get, 4, 5, linOutput{ok: true})}, porcupine.Ok},
		{"an unknown write cannot be undone", []porcupine.Operation{
			op(0, put("a"), 0, 100, linOutput{unknown: true}), op(1, get, 4, 5, linOutput{ok: true, value: "a"}),
			op(1, get, 6, 7, linOutput{ok: true})}, porcupine.Illegal},
		{"keys are independent", []porcupine.Operation{
			op(0, put("a"), 0, 1, linOutput{ok: true}),
			op(1, linInput{kind: linGet, key: "other"}, 2, 3, linOutput{ok: true})}, porcupine.Ok},
	} {
		if got := porcupine.CheckOperations(linModel(), tc.history); got != (tc.want == porcupine.Ok) {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.want == porcupine.Ok)
		}
	}
}

// TestStaleReadsAreNotLinearizable is why only linearizable reads go into
// the checked history: a node cut off from its shard's leader serves Stale
// reads from its old state, a history holding such a read is rejected by
// the model, and a Linearizable read on that node never returns the old
// value (it fails, or, if forwarded, returns the new one).
func TestStaleReadsAreNotLinearizable(t *testing.T) {
	c := newMemCluster(t, 3, 1, 11)
	ctx := context.Background()
	rec := newLinRecorder()
	cl := &linClient{c: c, rec: rec, id: 0, hints: map[string]raftpb.NodeID{}, rng: newTestRand(11)}
	if !cl.do(linInput{kind: linPut, key: "k000001", value: "old"}, 20*time.Second) {
		t.Fatal("first write failed")
	}
	// Every node applies it.
	waitAll(t, c, "k000001", "old")
	leader := c.leaderOf(t, "k000001")
	var follower raftpb.NodeID
	for _, id := range c.live() {
		if id != leader {
			follower = id
			break
		}
	}
	c.net.Isolate(follower)
	cl.hints["k000001"] = leader
	if !cl.do(linInput{kind: linPut, key: "k000001", value: "new"}, 20*time.Second) {
		t.Fatal("write with a majority failed")
	}
	call := rec.now()
	v, _, err := c.node(follower).Get(ctx, []byte("k000001"), Stale)
	if err != nil || string(v) != "old" {
		t.Fatalf("stale read on the isolated node = %q, %v; want the old value", v, err)
	}
	stale := porcupine.Operation{ClientId: 1, Input: linInput{kind: linGet, key: "k000001"}, Call: call,
		Output: linOutput{ok: true, value: string(v)}, Return: rec.now()}
	if porcupine.CheckOperations(linModel(), append(rec.finish(), stale)) {
		t.Fatal("the model accepted a stale read after the newer write had returned")
	}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	v, _, err = c.node(follower).Get(rctx, []byte("k000001"))
	cancel()
	if err == nil && string(v) != "new" {
		t.Fatalf("linearizable read on the isolated node returned %q", v)
	}
	var nl *NotLeaderError
	if err != nil && !errors.As(err, &nl) && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("linearizable read on the isolated node: unexpected error %v", err)
	}
	c.net.Heal()
	waitAll(t, c, "k000001", "new")
}

// waitAll polls Stale reads on every running node until each returns want.
func waitAll(t *testing.T, c *testCluster, key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range c.live() {
		for {
			v, _, err := c.node(id).Get(context.Background(), []byte(key), Stale)
			if err == nil && string(v) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: %s = %q (%v), want %q", id, key, v, err, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// leaderOf returns the node that leads key's shard, polling until a
// running node believes it does.
func (c *testCluster) leaderOf(t *testing.T, key string) raftpb.NodeID {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range c.live() {
			r := c.node(id).routes.lookup([]byte(key))
			if raftpb.NodeID(r.leader.Load()) == id {
				return id
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no leader for %s", key)
	return raftpb.None
}
