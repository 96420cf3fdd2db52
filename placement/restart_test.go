package placement

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// TestRestartedNodeIsGivenWorkingReplicas kills a node, lets the others
// replace its replicas, and restarts it on its data directory, where its
// old replicas of those shards still lie. The driver then gives it
// replicas again, some of shards it held before, and collects the old
// replicas it does not give back. Each replica it is given must be a
// working one at the shard's current epoch: the old one, caught up on its
// old log, applies its own old removal and deletes itself, which the
// leader's match index does not show (regression: such voters were
// promoted with no replica behind them, and leadership could never move
// to them). And no stale replica may stay (regression: they did, and
// requests through the node for their ranges failed).
func TestRestartedNodeIsGivenWorkingReplicas(t *testing.T) {
	c := newTestCluster(t, 4, 8, func(o *Options) {
		o.CatchUpTimeout = 20 * time.Second
		debugLog(t, o)
	})
	t.Cleanup(c.close) // NB: before the data directories are removed
	all := []raftpb.NodeID{1, 2, 3, 4}
	c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == 9 && balanced(st, all, 3)
	})
	c.put(c.node(1), 300, "r-")
	before, count := c.checksum(c.node(1))

	const victim = raftpb.NodeID(4)
	c.kill(victim)
	rest := []raftpb.NodeID{1, 2, 3}
	c.waitFor(2*time.Minute, "the dead node's replicas replaced", func(st Status) bool {
		_, ok := fullyReplicatedOn(st, rest, 3)
		return ok && len(st.Moves) == 0
	})
	if err := c.open(victim, 4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old, err := c.node(victim).Store().Report(ctx, victim, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) == 0 {
		t.Fatal("the restarted node hosts no old replica: the test would prove nothing")
	}
	hadOld := map[shard.ShardID]bool{}
	for _, r := range old {
		hadOld[r.Desc.ID] = true
	}

	st := c.waitFor(2*time.Minute, "the restarted node given replicas again", func(st Status) bool {
		_, ok := fullyReplicatedOn(st, all, 3)
		reused := 0
		for _, s := range st.Shards {
			if slices.Contains(s.Voters, victim) && hadOld[s.Desc.ID] {
				reused++
			}
		}
		return ok && len(st.Moves) == 0 && reused > 0
	})
	// Wait until every replica the node hosts is one it should.
	var hosted map[shard.ShardID]shard.Descriptor
	deadline := time.Now().Add(2 * time.Minute)
	for {
		now, err := c.node(victim).Store().Report(ctx, victim, false)
		if err != nil {
			t.Fatal(err)
		}
		hosted = map[shard.ShardID]shard.Descriptor{}
		var stale []shard.ShardID
		for _, r := range now {
			hosted[r.Desc.ID] = r.Desc
			if s, ok := shardInfo(st, r.Desc.ID); !ok || !slices.Contains(s.Desc.Replicas, victim) {
				stale = append(stale, r.Desc.ID)
			}
		}
		if len(stale) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d still hosts stale replicas of shards %v", victim, stale)
		}
		time.Sleep(100 * time.Millisecond)
		st = c.waitFor(time.Minute, "a status", func(Status) bool { return true })
	}
	var moved shard.ShardID
	for _, s := range st.Shards {
		if !slices.Contains(s.Voters, victim) {
			continue
		}
		d, ok := hosted[s.Desc.ID]
		if !ok || d.Epoch < s.Desc.Epoch {
			t.Fatalf("node %d is a voter of shard %d (epoch %d) but hosts %v (found %v)", victim, s.Desc.ID, s.Desc.Epoch, d, ok)
		}
		if hadOld[s.Desc.ID] && s.Desc.ID != shard.MetaShardID {
			moved = s.Desc.ID
		}
	}
	if moved != 0 {
		tctx, tcancel := context.WithTimeout(ctx, 20*time.Second)
		defer tcancel()
		if err := c.node(1).TransferLeader(tctx, moved, victim); err != nil {
			t.Fatalf("leadership of shard %d to the restarted node: %v", moved, err)
		}
	}
	if after, n := c.settledChecksum(c.node(victim)); after != before || n != count {
		t.Fatalf("data read through the restarted node differs: %d keys, %d before", n, count)
	}
}

// settledChecksum is checksum retried through errors for up to a minute:
// a scan through a replica that has just lost its leadership (the driver
// moves leaders at any time) fails fast instead of waiting out the
// election.
func (c *testCluster) settledChecksum(n *Node) ([32]byte, int) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		sum, count, err := scanChecksum(n)
		if err == nil {
			return sum, count
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("scan: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scanChecksum(n *Node) ([32]byte, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := sha256.New()
	count := 0
	var start []byte
	for {
		kvs, err := n.Store().Scan(ctx, start, nil, 500)
		if err != nil {
			return [32]byte{}, 0, err
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
	return sum, count, nil
}
