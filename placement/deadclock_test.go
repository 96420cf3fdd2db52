package placement

import (
	"context"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// TestNewMetaLeaderKeepsTheDeadClock: a node that takes over the meta
// shard's leadership after another node has been dead past the dead
// timeout replaces that node's replicas at once, instead of starting the
// dead timeout over from its own first pass (which put re-replication
// off by up to a whole dead timeout at each change of meta leader;
// TestNetnsPlacementLinearizable's seed 1796610423798698420 lost the end
// of an outage so).
//
// Node 1 runs no driver and leads the meta shard while node 4 dies and
// stays dead past the dead timeout, so nothing is replaced meanwhile;
// then node 2 takes the meta leadership. Its driver must start a move off
// node 4 before the dead timeout has passed again, and the cluster must
// end with every shard's replicas on the three survivors.
func TestNewMetaLeaderKeepsTheDeadClock(t *testing.T) {
	const dead = 4 * time.Second
	c := newTestCluster(t, 4, 4, func(o *Options) {
		o.Plan.DeadTimeout = dead
		o.DisableDriver = o.Store.NodeID == 1
	})
	all := []raftpb.NodeID{1, 2, 3, 4}
	c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == 5 && balanced(st, all, 3)
	})
	leadMeta(t, c, 1)

	const victim, heir raftpb.NodeID = 4, 2
	c.kill(victim)
	// Wait until the heir's gossip has had the victim dead for longer
	// than the dead timeout.
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, ok := c.node(heir).Gossip().Member(victim)
		if ok && m.State == gossip.Dead && time.Since(m.Since) > dead+time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d's gossip did not have node %d dead for %v within a minute (member %+v, known %v)", heir, victim, dead, m, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !c.node(1).leadsMeta() {
		t.Fatal("node 1 lost the meta leadership while node 4 was dying: the test would prove nothing")
	}
	if n := metaMovesOff(t, c.node(1), victim); n > 0 {
		t.Fatalf("%d moves off node %d recorded while no driver ran", n, victim)
	}

	leadMeta(t, c, heir)
	took := time.Now()
	for metaMovesOff(t, c.node(1), victim) == 0 && !movingOff(c, victim) {
		if time.Since(took) >= dead {
			t.Fatalf("the new meta leader started no move off node %d (dead for more than %v) within %v of taking over: it started the dead timeout over",
				victim, dead, dead)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the new meta leader started moving replicas off dead node %d %v after taking over", victim, time.Since(took).Round(time.Millisecond))
	c.waitFor(2*time.Minute, "re-replication onto the survivors", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
}

// leadMeta hands the meta shard's leadership to node id and waits until
// it leads.
func leadMeta(t *testing.T, c *testCluster, id raftpb.NodeID) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !c.node(id).leadsMeta() {
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not come to lead the meta shard in 30s", id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.node(id).Store().TransferLeader(ctx, shard.MetaShardID, id)
		cancel()
		if err != nil {
			time.Sleep(50 * time.Millisecond) // no leader to hand over from yet: ask again
		}
	}
}

// movingOff reports whether a live node's driver runs a move off node id.
func movingOff(c *testCluster, id raftpb.NodeID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		for _, m := range n.driver.moves() {
			if m.From == id {
				return true
			}
		}
	}
	return false
}

// metaMovesOff counts the moves off node id recorded in the meta shard,
// read through n (0 if it cannot be read now).
func metaMovesOff(t *testing.T, n *Node, id raftpb.NodeID) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	tbl, err := readTable(ctx, n.Store(), shard.Linearizable)
	if err != nil {
		return 0
	}
	count := 0
	for _, m := range tbl.moves {
		if m.From == id {
			count++
		}
	}
	return count
}
