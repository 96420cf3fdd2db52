package shard

import (
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/flotilladb/flotilla/internal/lincheck"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

var (
	linSeedFlag    = flag.Uint64("lin.seed", 0, "seed of the linearizability and crash tests (0: from the clock)")
	linHistoryFlag = flag.String("lin.history", "", "where a failing linearizability test writes its history (HTML); default a file in the system's temporary directory named after the test and the seed")
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

// checkLinearizable checks history (lincheck.Check); -lin.history names
// the visualization's file.
func checkLinearizable(t *testing.T, seed uint64, history []porcupine.Operation, events []porcupine.Annotation) {
	t.Helper()
	lincheck.Check(t, seed, history, events, *linHistoryFlag)
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

// TestLinearizableOverlappedRounds: workers with up to 4 rounds waiting
// for their sync at once (Options.MaxSyncingRounds), on slow disks so that
// rounds do overlap, with lease reads.
func TestLinearizableOverlappedRounds(t *testing.T) {
	runLinearizability(t, linConfig{nodes: 3, shards: 8, keys: 12, clients: 6, duration: 3 * time.Second, maxDown: 1,
		slowDisk: true, leaseReads: true, syncingRounds: 4})
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
	if !cl.do(lincheck.Input{Kind: lincheck.Put, Key: "k000001", Value: "old"}, 20*time.Second) {
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
	if !cl.do(lincheck.Input{Kind: lincheck.Put, Key: "k000001", Value: "new"}, 20*time.Second) {
		t.Fatal("write with a majority failed")
	}
	call := rec.Now()
	v, _, err := c.node(follower).Get(ctx, []byte("k000001"), Stale)
	if err != nil || string(v) != "old" {
		t.Fatalf("stale read on the isolated node = %q, %v; want the old value", v, err)
	}
	stale := porcupine.Operation{ClientId: 1, Input: lincheck.Input{Kind: lincheck.Get, Key: "k000001"}, Call: call,
		Output: lincheck.Output{OK: true, Value: string(v)}, Return: rec.Now()}
	if porcupine.CheckOperations(lincheck.Model(), append(rec.Finish(), stale)) {
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
func (c *testCluster) leaderOf(t testing.TB, key string) raftpb.NodeID {
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
