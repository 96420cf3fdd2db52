package placement

import (
	"bytes"
	"slices"
	"sort"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// cache is this node's copy of the meta shard's descriptors, the
// shard.Directory the store routes requests for shards it does not host
// with. It is refreshed when the meta shard's version changes (and at
// once by the driver's own writes); between refreshes it may be stale,
// which costs a retry, never a wrong answer: the node a stale entry
// points to refuses the request (not the leader, shard not here), and the
// store tries the next one.
type cache struct {
	mu      sync.RWMutex
	version int64
	byStart []shard.Descriptor // user shards, sorted by Start
	byID    map[shard.ShardID]shard.Descriptor
	leaders map[shard.ShardID]raftpb.NodeID
	// members lists the live nodes (from gossip): where to look for the
	// meta shard before the first refresh.
	members func() []raftpb.NodeID
}

var _ shard.Directory = (*cache)(nil)

func newCache(members func() []raftpb.NodeID) *cache {
	return &cache{byID: map[shard.ShardID]shard.Descriptor{}, leaders: map[shard.ShardID]raftpb.NodeID{}, members: members}
}

// load replaces the cached descriptors with t's.
func (c *cache) load(t *table) {
	byID := make(map[shard.ShardID]shard.Descriptor, len(t.shards))
	byStart := make([]shard.Descriptor, 0, len(t.shards))
	for id, st := range t.shards {
		byID[id] = st.Desc
		if id != shard.MetaShardID {
			byStart = append(byStart, st.Desc)
		}
	}
	slices.SortFunc(byStart, func(a, b shard.Descriptor) int { return bytes.Compare(a.Start, b.Start) })
	c.mu.Lock()
	c.version, c.byID, c.byStart = t.version, byID, byStart
	c.mu.Unlock()
}

func (c *cache) loadedVersion() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// Shard implements shard.Directory.
func (c *cache) Shard(id shard.ShardID) (shard.Descriptor, raftpb.NodeID, bool) {
	c.mu.RLock()
	d, ok := c.byID[id]
	ld := c.leaders[id]
	c.mu.RUnlock()
	if !ok && id == shard.MetaShardID && c.members != nil {
		// Not loaded yet: the meta shard is on some live node; ask them.
		return shard.Descriptor{ID: id, Replicas: c.members()}, ld, true
	}
	return d, ld, ok
}

// ShardFor implements shard.Directory.
func (c *cache) ShardFor(key []byte) (shard.Descriptor, raftpb.NodeID, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := sort.Search(len(c.byStart), func(i int) bool { return bytes.Compare(c.byStart[i].Start, key) > 0 })
	if i == 0 {
		return shard.Descriptor{}, 0, false
	}
	d := c.byStart[i-1]
	if !d.Contains(key) {
		return shard.Descriptor{}, 0, false
	}
	return d, c.leaders[d.ID], true
}

// Shards implements shard.Directory.
func (c *cache) Shards(start, end []byte) []shard.Descriptor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []shard.Descriptor
	for _, d := range c.byStart {
		if len(d.End) != 0 && bytes.Compare(d.End, start) <= 0 {
			continue
		}
		if len(end) != 0 && bytes.Compare(d.Start, end) >= 0 {
			break
		}
		out = append(out, d)
	}
	return out
}

// NoteLeader implements shard.Directory.
func (c *cache) NoteLeader(id shard.ShardID, node raftpb.NodeID) {
	c.mu.Lock()
	c.leaders[id] = node
	c.mu.Unlock()
}
