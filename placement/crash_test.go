package placement

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// voterSampler polls the cluster's status until stopped and remembers
// the first shard seen with fewer voters than minVoters.
type voterSampler struct {
	c         *testCluster
	minVoters int
	stop      chan struct{}
	done      chan struct{}

	mu      sync.Mutex
	samples int
	bad     string
	// maxMoves is the most moves one sample saw in flight.
	maxMoves int
}

func startVoterSampler(c *testCluster, minVoters int) *voterSampler {
	s := &voterSampler{c: c, minVoters: minVoters, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *voterSampler) run() {
	defer close(s.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n := s.c.any()
		if n == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := n.Status(ctx)
		cancel()
		if err != nil {
			continue // no meta leader for a moment: nothing to sample
		}
		s.mu.Lock()
		s.samples++
		s.maxMoves = max(s.maxMoves, len(st.Moves))
		for _, sh := range st.Shards {
			if len(sh.Voters) < s.minVoters && s.bad == "" {
				s.bad = fmt.Sprintf("shard %d had %d voters %v (learners %v) at sample %d", sh.Desc.ID, len(sh.Voters), sh.Voters, sh.Learners, s.samples)
			}
		}
		s.mu.Unlock()
	}
}

// finish stops the sampler and fails t if a shard was ever short of
// voters or nothing was sampled.
func (s *voterSampler) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("voter sampler: %d samples, up to %d moves in flight at once", s.samples, s.maxMoves)
	if s.bad != "" {
		t.Fatal(s.bad)
	}
	if s.samples < 10 {
		t.Fatalf("only %d status samples: the voter check saw too little", s.samples)
	}
}

// TestMetaLeaderCrashMidMove kills the node leading the meta shard (so
// running the driver) while moves onto a new fourth node are in flight.
// The new meta leader must resume or roll back those moves: the cluster
// ends balanced on the three survivors (the dead node's replicas
// replaced), no move record is left, no shard ever had fewer than three
// voters, and the data is unchanged. The killed node then restarts on its
// data directory and the cluster rebalances onto it again.
func TestMetaLeaderCrashMidMove(t *testing.T) {
	shards := 24
	if testing.Short() {
		shards = 12
	}
	var c *testCluster // set once bootstrapped
	c = newTestCluster(t, 3, shards, func(o *Options) {
		o.CatchUpTimeout = 20 * time.Second
		debugLog(t, o)
		if c == nil {
			return
		}
		// Later nodes join through every known address (their own is
		// skipped): a node whose only seed is itself would stay alone.
		o.Seeds = nil
		for _, a := range c.gossip {
			o.Seeds = append(o.Seeds, a)
		}
	})
	t.Cleanup(c.close) // NB: before the data directories are removed
	all := []raftpb.NodeID{1, 2, 3}
	st := c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, all, 3)
	})
	// Enough data that snapshots to the new node take a moment.
	c.putSized(c.node(1), 3000, 512, "m-")
	before, count := c.checksum(c.node(2))

	sampler := startVoterSampler(c, 3)
	c.addAddrs(4)
	if err := c.open(4, 3); err != nil {
		t.Fatal(err)
	}
	// Kill the meta leader once it has recorded moves in the meta shard
	// (polled on the leader itself: moves of this little data are quick).
	var victim raftpb.NodeID
	var inflight []Move
	deadline := time.Now().Add(time.Minute)
	for victim == raftpb.None && time.Now().Before(deadline) {
		st = c.waitFor(30*time.Second, "a meta leader", func(st Status) bool { return st.MetaLeader != raftpb.None })
		leader := c.node(st.MetaLeader)
		for i := 0; i < 2000 && victim == raftpb.None; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			t0, err := readTable(ctx, leader.Store(), shard.Stale)
			cancel()
			if err != nil || !leader.leadsMeta() {
				break // leadership moved: find the new leader
			}
			if len(t0.moves) > 0 {
				victim = st.MetaLeader
				for _, m := range t0.moves {
					inflight = append(inflight, m)
				}
				c.kill(victim)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if victim == raftpb.None {
		t.Fatal("never saw a move recorded in the meta shard to crash in the middle of")
	}
	t.Logf("killed meta leader %d with %d moves recorded: %+v", victim, len(inflight), inflight)

	survivors := []raftpb.NodeID{}
	for _, id := range []raftpb.NodeID{1, 2, 3, 4} {
		if id != victim {
			survivors = append(survivors, id)
		}
	}
	start := time.Now()
	st = c.waitFor(3*time.Minute, "balance on the survivors", func(st Status) bool {
		return st.MetaLeader != victim && balanced(st, survivors, 3)
	})
	t.Logf("balanced on %v %v after the crash; new meta leader %d", survivors, time.Since(start).Round(time.Millisecond), st.MetaLeader)
	sampler.finish(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tbl, err := readTable(ctx, c.node(survivors[0]).Store(), shard.Linearizable)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.moves) != 0 {
		t.Fatalf("move records left in the meta shard: %+v", tbl.moves)
	}
	if after, n := c.checksum(c.node(survivors[0])); after != before || n != count {
		t.Fatalf("data changed: %d keys after, %d before", n, count)
	}

	// The killed node comes back on its data directory.
	if err := c.open(victim, 3); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	c.waitFor(3*time.Minute, fmt.Sprintf("balance after node %d restarted", victim), func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3, 4}, 3)
	})
	t.Logf("node %d rejoined and the cluster rebalanced in %v", victim, time.Since(start).Round(time.Millisecond))
	if after, n := c.settledChecksum(c.node(victim)); after != before || n != count {
		t.Fatalf("data read through the restarted node differs: %d keys, %d before", n, count)
	}
}

// debugLog sends o's logs, at debug level, to the file named by
// $PLACEMENT_DEBUG_LOG (appended to), when it is set.
func debugLog(t *testing.T, o *Options) {
	p := os.Getenv("PLACEMENT_DEBUG_LOG")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	o.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", o.Store.NodeID)
	o.Store.Logger = o.Logger
}

// sizedValue is the value putSized writes at key: the prefix and key,
// then valueBytes of bytes drawn from a source seeded by the key (which
// do not compress: the size estimates the splits go by are of compressed
// data).
func sizedValue(prefix, key string, valueBytes int) []byte {
	var seed [32]byte
	copy(seed[:], key)
	v := append([]byte(prefix+key), make([]byte, valueBytes)...)
	_, _ = rand.NewChaCha8(seed).Read(v[len(prefix)+len(key):])
	return v
}

// putSized writes count keys of valueBytes each through n.
func (c *testCluster) putSized(n *Node, count, valueBytes int, prefix string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	retries := 0
	for i := range count {
		key := fmt.Sprintf("k%06d", (i*7919)%1000000)
		v := sizedValue(prefix, key, valueBytes)
		// A put of the same value is idempotent: retried through errors
		// (a split or a move under way) until the deadline.
		for {
			err := n.Store().Put(ctx, []byte(key), v)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				c.t.Fatalf("put %s: %v", key, err)
			}
			retries++
			time.Sleep(10 * time.Millisecond)
		}
	}
	if retries > 0 {
		c.t.Logf("putSized: %d puts retried", retries)
	}
}
