package placement

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// fullyReplicatedOn reports whether every shard of st has its target
// voters, all on nodes of on, no learners and a leader; it returns the
// first shard that does not, for the failure message.
func fullyReplicatedOn(st Status, on []raftpb.NodeID, replicas int) (ShardInfo, bool) {
	for _, s := range st.Shards {
		want := min(replicas, len(on))
		if s.Desc.ID == shard.MetaShardID {
			want = min(5, len(on))
		}
		if len(s.Voters) != want || len(s.Learners) != 0 || s.Leader == raftpb.None {
			return s, false
		}
		for _, v := range s.Voters {
			if !slices.Contains(on, v) {
				return s, false
			}
		}
	}
	return ShardInfo{}, true
}

func nodeStatus(st Status, id raftpb.NodeID) (NodeStatus, bool) {
	for _, n := range st.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeStatus{}, false
}

// TestDrainMovesEverythingAway drains one node of four and waits for
// Drain to report it done: the node then hosts and leads nothing, every
// shard has its full set of voters on the other three, and the data is
// what it was.
func TestDrainMovesEverythingAway(t *testing.T) {
	shards := 24
	if testing.Short() {
		shards = 12
	}
	c := newTestCluster(t, 4, shards, nil)
	t.Cleanup(c.close) // NB: before the data directories are removed
	all := []raftpb.NodeID{1, 2, 3, 4}
	c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, all, 3)
	})
	c.put(c.node(1), 400, "d-")
	before, count := c.checksum(c.node(3))
	if count != 400 {
		t.Fatalf("scanned %d keys, want 400", count)
	}

	const drained = raftpb.NodeID(2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	p, err := c.node(1).Drain(ctx, drained, true)
	if err != nil {
		t.Fatalf("drain of node %d: %v (progress %+v)", drained, err, p)
	}
	t.Logf("node %d drained in %v", drained, time.Since(start).Round(time.Millisecond))
	if !p.Done || p.Replicas != 0 || p.Leaders != 0 {
		t.Fatalf("Drain returned %+v, want done with nothing left", p)
	}

	// The node's own report, asked directly: nothing hosted, nothing led.
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	rs, err := c.node(drained).Store().Report(rctx, drained, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 0 {
		t.Fatalf("node %d still hosts %d replicas after its drain, e.g. shard %d", drained, len(rs), rs[0].Desc.ID)
	}

	rest := []raftpb.NodeID{1, 3, 4}
	st := c.waitFor(60*time.Second, "every shard fully replicated on the other nodes", func(st Status) bool {
		_, ok := fullyReplicatedOn(st, rest, 3)
		return ok && len(st.Moves) == 0
	})
	if ns, ok := nodeStatus(st, drained); !ok || ns.State != NodeDraining || ns.Replicas != 0 || ns.Leaders != 0 {
		t.Fatalf("status of the drained node: %+v (found %v), want draining with no replicas or leaders", ns, ok)
	}
	for _, s := range st.Shards {
		if slices.Contains(s.Desc.Replicas, drained) {
			t.Fatalf("shard %d's descriptor still names node %d: %+v", s.Desc.ID, drained, s.Desc)
		}
	}
	if after, n := c.checksum(c.node(drained)); after != before || n != count {
		t.Fatalf("data changed by the drain: %d keys after, %d before", n, count)
	}
	// The drained node stays out: a later pass gives it nothing back.
	p, err = c.node(3).Drain(ctx, drained, false)
	if err != nil || !p.Done {
		t.Fatalf("drain progress after the drain: %+v, %v", p, err)
	}
}
