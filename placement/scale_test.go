package placement

import (
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// scaleTweak is the test cluster's configuration for 1,024 shards: more
// moves at once than the small tests allow (a new node is the target of
// every move, so MaxMovesPerNode sets the pace), and a slower driver and
// refresher, whose every pass reads all the replicas' reports.
func scaleTweak(o *Options) {
	o.Plan.MaxMovesPerNode, o.Plan.MaxMoves = 16, 32
	o.DriverInterval, o.RefreshInterval = 500*time.Millisecond, 500*time.Millisecond
}

// TestAddNodeBalances1024Shards is the scale test: three nodes
// with 1,024 shards, add a fourth, and wait until replica and leader
// counts are within the goals (10% of the mean) with every shard fully
// replicated. About 50 s on a shared 2-core machine; skipped by -short.
func TestAddNodeBalances1024Shards(t *testing.T) {
	if testing.Short() {
		t.Skip("1,024 shards: not in -short")
	}
	const shards = 1024
	start := time.Now()
	c := newTestCluster(t, 3, shards, scaleTweak)
	t.Cleanup(c.close) // NB: before the data directories are removed
	c.waitFor(5*time.Minute, "the initial layout", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
	t.Logf("3 nodes with %d shards up in %v", shards, time.Since(start).Round(time.Millisecond))
	c.put(c.node(1), 2000, "l-")
	before, count := c.checksum(c.node(2))

	c.addAddrs(4)
	if err := c.open(4, 3); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	st := c.waitFor(15*time.Minute, "balance after adding node 4", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3, 4}, 3)
	})
	t.Logf("balanced 4 nodes in %v: %+v", time.Since(start).Round(time.Millisecond), st.Nodes)
	if after, n := c.checksum(c.node(4)); after != before || n != count {
		t.Fatalf("data changed while rebalancing: %d keys, %d before", n, count)
	}
}
