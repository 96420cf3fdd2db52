package placement

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// shardInfo finds shard id in st.
func shardInfo(st Status, id shard.ShardID) (ShardInfo, bool) {
	for _, s := range st.Shards {
		if s.Desc.ID == id {
			return s, true
		}
	}
	return ShardInfo{}, false
}

// checkTiling fails t unless the user shards of st cover the key space
// exactly once: sorted by start, the first starts at nil, each ends where
// the next starts, the last is unbounded.
func checkTiling(t *testing.T, st Status) {
	t.Helper()
	var ds []shard.Descriptor
	for _, s := range st.Shards {
		if s.Desc.ID != shard.MetaShardID {
			ds = append(ds, s.Desc)
		}
	}
	slices.SortFunc(ds, func(a, b shard.Descriptor) int { return bytes.Compare(a.Start, b.Start) })
	if len(ds) == 0 || len(ds[0].Start) != 0 || len(ds[len(ds)-1].End) != 0 {
		t.Fatalf("the shards do not cover the key space: %v", ds)
	}
	for i := 1; i < len(ds); i++ {
		if !bytes.Equal(ds[i-1].End, ds[i].Start) {
			t.Fatalf("shards %d and %d do not meet: %v then %v", ds[i-1].ID, ds[i].ID, ds[i-1], ds[i])
		}
	}
}

// checkShardHoldsItsRange scans shard d by ID on a node that routes
// everything through the meta cache, and fails t unless every key it
// holds lies in d's range and the whole cluster scan has the same keys of
// that range.
func (c *testCluster) checkShardHoldsItsRange(n *Node, d shard.Descriptor) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	own, err := n.Store().ScanShard(ctx, d.ID, d.Start, d.End, 1<<20, shard.Linearizable)
	if err != nil {
		c.t.Fatalf("scan of shard %d: %v", d.ID, err)
	}
	all, err := n.Store().Scan(ctx, d.Start, d.End, 1<<20)
	if err != nil {
		c.t.Fatalf("scan of %v: %v", d, err)
	}
	if len(own) != len(all) {
		c.t.Fatalf("shard %d holds %d keys of its range %v; a routed scan finds %d", d.ID, len(own), d, len(all))
	}
	for i := range own {
		if !d.Contains(own[i].Key) || !bytes.Equal(own[i].Key, all[i].Key) || !bytes.Equal(own[i].Value, all[i].Value) {
			c.t.Fatalf("shard %d key %d: %q, routed scan %q", d.ID, i, own[i].Key, all[i].Key)
		}
	}
	return len(own)
}

// TestAdminSplit splits a shard at a key through one node and checks
// that the meta shard lists both halves, that every node routes the keys
// of the right half to the new shard, and that no data changed.
func TestAdminSplit(t *testing.T) {
	c := newTestCluster(t, 3, 4, nil)
	t.Cleanup(c.close) // NB: before the data directories are removed
	all := []raftpb.NodeID{1, 2, 3}
	st := c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == 5 && balanced(st, all, 3)
	})
	c.put(c.node(1), 600, "s-")
	before, count := c.checksum(c.node(1))

	key := []byte("k400000")
	var old ShardInfo
	for _, s := range st.Shards {
		if s.Desc.ID != shard.MetaShardID && s.Desc.Contains(key) {
			old = s
		}
	}
	if old.Desc.ID == 0 || bytes.Equal(old.Desc.Start, key) {
		t.Fatalf("no shard strictly contains %q: %+v", key, st.Shards)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newID, err := c.node(2).SplitShard(ctx, old.Desc.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	st = c.waitFor(30*time.Second, "the meta shard to list both halves", func(st Status) bool {
		l, ok1 := shardInfo(st, old.Desc.ID)
		r, ok2 := shardInfo(st, newID)
		return ok1 && ok2 && bytes.Equal(l.Desc.End, key) && bytes.Equal(r.Desc.Start, key) && len(st.Moves) == 0 &&
			r.Leader != raftpb.None
	})
	left, _ := shardInfo(st, old.Desc.ID)
	right, _ := shardInfo(st, newID)
	t.Logf("split shard %d at %q: %v and %v", old.Desc.ID, key, left.Desc, right.Desc)
	if !bytes.Equal(left.Desc.Start, old.Desc.Start) || !bytes.Equal(right.Desc.End, old.Desc.End) ||
		left.Desc.Epoch <= old.Desc.Epoch {
		t.Fatalf("halves %v and %v do not split %v", left.Desc, right.Desc, old.Desc)
	}
	if !slices.Equal(right.Voters, old.Voters) || right.Leader == raftpb.None {
		t.Fatalf("new shard's voters %v (leader %d), want %v", right.Voters, right.Leader, old.Voters)
	}
	checkTiling(t, st)

	// Every node's cache routes the right half to the new shard.
	for _, id := range all {
		n := c.node(id)
		deadline := time.Now().Add(10 * time.Second)
		for {
			d, _, ok := n.cache.ShardFor([]byte("k450000"))
			if ok && d.ID == newID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d routes k450000 to %v (found %v), want shard %d", id, d, ok, newID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	nl := c.checkShardHoldsItsRange(c.node(3), left.Desc)
	nr := c.checkShardHoldsItsRange(c.node(3), right.Desc)
	if nl == 0 || nr == 0 {
		t.Fatalf("a half is empty (%d and %d keys): the test split nothing", nl, nr)
	}
	if after, n := c.checksum(c.node(3)); after != before || n != count {
		t.Fatalf("data changed by the split: %d keys, %d before", n, count)
	}
	// New writes on both sides, through every node, land in the right
	// shard.
	for i, id := range all {
		for _, k := range []string{fmt.Sprintf("k3999%02d", i), fmt.Sprintf("k4000%02d", i+1)} {
			if err := c.node(id).Store().Put(ctx, []byte(k), []byte("new")); err != nil {
				t.Fatalf("put %s through node %d: %v", k, id, err)
			}
		}
	}
	if got := c.checkShardHoldsItsRange(c.node(1), left.Desc); got != nl+3 {
		t.Fatalf("left half has %d keys after 3 new ones, want %d", got, nl+3)
	}
	if got := c.checkShardHoldsItsRange(c.node(1), right.Desc); got != nr+3 {
		t.Fatalf("right half has %d keys after 3 new ones, want %d", got, nr+3)
	}
}

// TestSplitBySize sets a small SplitSizeBytes and writes well past it:
// the driver must split the shards that grew, record the new shards in
// the meta shard, keep the key space tiled, and change no data.
func TestSplitBySize(t *testing.T) {
	c := newTestCluster(t, 3, 2, func(o *Options) {
		o.Plan.SplitSizeBytes = 512 << 10
		// Small memtables, so data reaches the sstables the size estimate
		// counts.
		o.Store.KV.MemTableBytes = 1 << 20
	})
	t.Cleanup(c.close) // NB: before the data directories are removed
	all := []raftpb.NodeID{1, 2, 3}
	c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == 3 && balanced(st, all, 3)
	})
	// About 6 MiB over the two shards.
	c.putSized(c.node(1), 1500, 4<<10, "z-")
	start := time.Now()
	st := c.waitFor(2*time.Minute, "splits by size", func(st Status) bool {
		return len(st.Shards) >= 1+4 && len(st.Moves) == 0
	})
	t.Logf("%d user shards %v after writing", len(st.Shards)-1, time.Since(start).Round(time.Millisecond))
	checkTiling(t, st)
	want := sizedSum(1500, 4<<10, "z-")
	if got, n := c.checksum(c.node(1)); got != want || n != 1500 {
		t.Fatalf("data changed by the splits: %d keys scanned of 1500 written, checksum differs %v", n, got != want)
	}
	for _, s := range st.Shards {
		if s.Desc.ID != shard.MetaShardID {
			c.checkShardHoldsItsRange(c.node(2), s.Desc)
		}
	}
	if got, n := c.checksum(c.node(3)); got != want || n != 1500 {
		t.Fatalf("data read through node 3 differs: %d keys", n)
	}
}

// sizedSum is the checksum of what putSized writes.
func sizedSum(count, valueBytes int, prefix string) [32]byte {
	var keys []string
	for i := range count {
		keys = append(keys, fmt.Sprintf("k%06d", (i*7919)%1000000))
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(sizedValue(prefix, k, valueBytes))
		h.Write([]byte{0})
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
