package placement

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/internal/testnet"
	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// testCluster runs placement nodes in one process: real pebble, real TCP
// between stores, real memberlist gossip, all on loopback.
type testCluster struct {
	t      *testing.T
	mu     sync.Mutex
	nodes  map[raftpb.NodeID]*Node
	dirs   map[raftpb.NodeID]string
	raft   map[raftpb.NodeID]string
	gossip map[raftpb.NodeID]string
	shards int
	tweak  func(o *Options)
	root   string
}

// freePorts returns n free loopback addresses (internal/testnet: ports
// below the ephemeral range, so no outgoing connection takes one first).
func freePorts(t *testing.T, n int) []string { return testnet.FreeAddrs(t, n) }

func (c *testCluster) options(id raftpb.NodeID, expect int) Options {
	o := Options{
		Store: shard.Options{Dir: c.dirs[id], NodeID: id, ListenAddr: c.raft[id],
			TickInterval: 20 * time.Millisecond, SyncInterval: 100 * time.Millisecond, Seed: uint64(id)},
		Gossip:          gossip.Config{BindAddr: c.gossip[id], Profile: gossip.Loopback},
		Seeds:           []string{c.gossip[1]},
		BootstrapExpect: expect,
		InitialShards:   c.shards,
		Plan:            plan.Config{DeadTimeout: 2 * time.Second, MaxMovesPerNode: 4, MaxMoves: 16},
		DriverInterval:  200 * time.Millisecond, RefreshInterval: 100 * time.Millisecond,
	}
	// FLOTILLA_TEST_LOG=1 logs every node (debug level) to stderr.
	if os.Getenv("FLOTILLA_TEST_LOG") != "" {
		l := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
		o.Logger, o.Store.Logger = l, l
	}
	if c.tweak != nil {
		c.tweak(&o)
	}
	return o
}

// newTestCluster bootstraps n nodes at once (as --bootstrap-expect n).
func newTestCluster(t *testing.T, n, shards int, tweak func(o *Options)) *testCluster {
	c := &testCluster{t: t, nodes: map[raftpb.NodeID]*Node{}, dirs: map[raftpb.NodeID]string{},
		raft: map[raftpb.NodeID]string{}, gossip: map[raftpb.NodeID]string{}, shards: shards, tweak: tweak}
	// The data directories live under root, made before the close is
	// registered: cleanups run last-registered first, so the nodes close
	// before their directories go (a node whose directory vanished under
	// it stops the test binary with pebble's fatal error).
	c.root = t.TempDir()
	t.Cleanup(c.close)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		c.addAddrs(raftpb.NodeID(i))
	}
	for i := 1; i <= n; i++ {
		id := raftpb.NodeID(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.open(id, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *testCluster) addAddrs(id raftpb.NodeID) {
	ports := freePorts(c.t, 2)
	dir, err := os.MkdirTemp(c.root, fmt.Sprintf("node%d-", id))
	if err != nil {
		c.t.Fatal(err)
	}
	c.dirs[id], c.raft[id], c.gossip[id] = dir, ports[0], ports[1]
}

func (c *testCluster) open(id raftpb.NodeID, expect int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Open(ctx, c.options(id, expect))
	if err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return nil
}

func (c *testCluster) node(id raftpb.NodeID) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *testCluster) any() *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		return n
	}
	return nil
}

func (c *testCluster) kill(id raftpb.NodeID) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n != nil {
		_ = n.Kill()
	}
}

func (c *testCluster) close() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[raftpb.NodeID]*Node{}
	c.mu.Unlock()
	for _, n := range nodes {
		_ = n.Close()
	}
}

// waitFor polls cond until it holds or the deadline passes, printing the
// last status on failure.
func (c *testCluster) waitFor(d time.Duration, what string, cond func(Status) bool) Status {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last Status
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.any().Status(ctx)
		cancel()
		if err == nil {
			last = st
			if cond(st) {
				return st
			}
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("timed out after %v waiting for %s; last error %v; nodes %+v; moves %+v; plan %v", d, what, lastErr, last.Nodes, last.Moves, last.Plan)
	return last
}

// put writes n keys through the given node (forwarded as needed).
func (c *testCluster) put(n *Node, count int, prefix string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range count {
		key := fmt.Sprintf("k%06d", (i*7919)%1000000)
		if err := n.Store().Put(ctx, []byte(key), []byte(prefix+key)); err != nil {
			c.t.Fatalf("put %s: %v", key, err)
		}
	}
}

// checksum hashes every key and value, scanned in order through n.
func (c *testCluster) checksum(n *Node) ([32]byte, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := sha256.New()
	count := 0
	var start []byte
	for {
		kvs, err := n.Store().Scan(ctx, start, nil, 500)
		if err != nil {
			c.t.Fatalf("scan: %v", err)
		}
		for _, kv := range kvs {
			h.Write(kv.Key)
			h.Write([]byte{0})
			h.Write(kv.Value)
			h.Write([]byte{0})
			count++
		}
		if len(kvs) < 500 {
			break
		}
		start = append(kvs[len(kvs)-1].Key, 0)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, count
}

// balanced reports whether every live node's replica and leader counts
// are within 10% of the mean (at least one of slack), every shard has
// its target voters on live nodes, and nothing is moving.
func balanced(st Status, live []raftpb.NodeID, replicas int) bool {
	if len(st.Moves) > 0 {
		return false
	}
	isLive := map[raftpb.NodeID]bool{}
	for _, id := range live {
		isLive[id] = true
	}
	var rs, ls []int
	for _, n := range st.Nodes {
		if isLive[n.ID] {
			rs, ls = append(rs, n.Replicas), append(ls, n.Leaders)
		}
	}
	if len(rs) != len(live) {
		return false
	}
	within := func(xs []int) bool {
		sum := 0
		for _, x := range xs {
			sum += x
		}
		// The planner's band (placement/plan): within 10% of the mean,
		// rounded outwards, and never narrower than floor..ceil(mean).
		mean := float64(sum) / float64(len(xs))
		lo := min(int(math.Floor(mean*0.9+1e-9)), sum/len(xs))
		hi := max(int(math.Ceil(mean*1.1-1e-9)), (sum+len(xs)-1)/len(xs))
		for _, x := range xs {
			if x < lo || x > hi {
				return false
			}
		}
		return true
	}
	for _, s := range st.Shards {
		want := min(replicas, len(live))
		if s.Desc.ID == shard.MetaShardID {
			want = min(5, len(live))
		}
		if len(s.Voters) != want || len(s.Learners) != 0 || s.Leader == raftpb.None {
			return false
		}
		for _, v := range s.Voters {
			if !isLive[v] {
				return false
			}
		}
	}
	return within(rs) && within(ls)
}

func TestAddNodeRebalancesThenDeadNodeIsReplaced(t *testing.T) {
	shards := 48
	if testing.Short() {
		shards = 16
	}
	c := newTestCluster(t, 3, shards, nil)
	n1 := c.node(1)
	c.waitFor(30*time.Second, "the meta shard to list every shard", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
	c.put(n1, 500, "a-")
	before, count := c.checksum(n1)
	if count != 500 {
		t.Fatalf("scanned %d keys, want 500", count)
	}

	c.addAddrs(4)
	if err := c.open(4, 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st := c.waitFor(3*time.Minute, "balance after adding node 4", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3, 4}, 3)
	})
	t.Logf("balanced 4 nodes in %v: %+v", time.Since(start), st.Nodes)
	if after, _ := c.checksum(c.node(4)); after != before {
		t.Fatal("data changed while rebalancing")
	}

	c.kill(2)
	start = time.Now()
	st = c.waitFor(3*time.Minute, "re-replication after node 2 died", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 3, 4}, 3)
	})
	t.Logf("re-replicated without node 2 in %v: %+v", time.Since(start), st.Nodes)
	if after, _ := c.checksum(c.node(3)); after != before {
		t.Fatal("data changed while re-replicating")
	}
}
