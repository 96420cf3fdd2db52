package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// Defaults of Options.
const (
	DefaultDriverInterval  = time.Second
	DefaultRefreshInterval = 500 * time.Millisecond
	DefaultCatchUpTimeout  = 2 * time.Minute
)

// Options configures a placement Node: a store, its gossip, its cache of
// the meta shard and its share of the placement driver.
type Options struct {
	// Store configures the store. Placement sets Resolver, Directory,
	// InitialShards and Join; Store.ListenAddr is the Raft address.
	Store shard.Options
	// Gossip configures membership. Placement sets Meta.NodeID,
	// Meta.ClusterID and Meta.RaftAddr from Store; Events are placement's.
	Gossip gossip.Config
	// Seeds are gossip addresses of nodes to join through.
	Seeds []string
	// BootstrapExpect: a node without data waits until this many nodes
	// (itself included) are alive in gossip and then the BootstrapExpect
	// lowest node IDs form a new cluster. A node that has data ignores it.
	// 0 means: without Seeds, bootstrap a single-node cluster; with
	// Seeds, join an existing cluster.
	BootstrapExpect int
	// InitialShards is the number of user shards a new cluster starts
	// with (split evenly with Store.SplitKeys if given, else at
	// shard.EvenSplitKeys of SplitKeyFormat). Default 1.
	InitialShards int
	// SplitKeyFormat formats the even split keys ("k%06d" over [0,
	// SplitKeyRange)). Defaults "k%06d" and 1,000,000.
	SplitKeyFormat string
	SplitKeyRange  uint64
	// Plan configures the planner (replication factor, tolerance, dead
	// timeout, move limits, splits).
	Plan plan.Config
	// DriverInterval is how often the meta leader's driver plans. Default
	// 1s. RefreshInterval is how often a node checks the meta shard's
	// version. Default 500ms.
	DriverInterval, RefreshInterval time.Duration
	// CatchUpTimeout bounds how long a move waits for a new learner to
	// catch up before it rolls the learner back. Default 2m.
	CatchUpTimeout time.Duration
	// DisableDriver keeps this node from ever running the driver (it
	// still serves the meta shard). Tests use it.
	DisableDriver bool
	// AutoRebalance: the driver executes its plans by itself. Default
	// on; off, the driver still collects and reconciles but starts
	// nothing: only admin requests (Rebalance, Drain's moves are then
	// started by Rebalance, MoveShard, SplitShard) change placement.
	AutoRebalance *bool
	// Logger defaults to Store.Logger, else discard.
	Logger *slog.Logger
}

// Node is one node of a placement-managed cluster.
type Node struct {
	opts  Options
	store *shard.Store
	// events is store for gossip's callbacks, which start firing (a Join
	// for every member) while Open is still opening the store.
	events atomic.Pointer[shard.Store]
	gossip *gossip.Gossip
	cache  *cache
	driver *driver
	log    *slog.Logger

	status statusCache
	m      counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Open starts gossip, decides whether to bootstrap a new cluster, opens
// the store and starts the meta cache refresher and the driver.
func Open(ctx context.Context, o Options) (*Node, error) {
	o.Store.EnsureDefaults()
	if o.InitialShards <= 0 {
		o.InitialShards = 1
	}
	if o.SplitKeyFormat == "" {
		o.SplitKeyFormat, o.SplitKeyRange = "k%06d", 1_000_000
	}
	if o.DriverInterval <= 0 {
		o.DriverInterval = DefaultDriverInterval
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.CatchUpTimeout <= 0 {
		o.CatchUpTimeout = DefaultCatchUpTimeout
	}
	o.Plan.EnsureDefaults()
	if err := o.Plan.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = o.Store.Logger
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Store.ListenAddr == "" {
		return nil, errors.New("placement: Store.ListenAddr (the Raft address) is required")
	}
	n := &Node{opts: o, log: o.Logger}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	gc := o.Gossip
	gc.Meta.NodeID, gc.Meta.ClusterID, gc.Meta.RaftAddr = o.Store.NodeID, o.Store.ClusterID, o.Store.ListenAddr
	if gc.Logger == nil {
		gc.Logger = o.Logger
	}
	gc.Events = gossip.Events{
		Join: func(m gossip.Member) {
			if st := n.events.Load(); st != nil {
				st.NodeAlive(m.NodeID)
			}
		},
		Dead: func(m gossip.Member) {
			if st := n.events.Load(); st != nil {
				st.NodeDead(m.NodeID)
			}
		},
	}
	g, err := gossip.New(gc)
	if err != nil {
		return nil, fmt.Errorf("placement: %w", err)
	}
	n.gossip = g
	n.cache = newCache(n.liveNodes)
	joined := len(o.Seeds) == 0
	if !joined {
		if _, err := g.Join(o.Seeds); err != nil {
			n.log.Info("placement: join through seeds failed; retrying in the background", "seeds", o.Seeds, "err", err)
		} else {
			joined = true
		}
	}
	so := o.Store
	so.Resolver, so.Directory = g, n.cache
	so.Join = true
	if !hasData(so.Dir) {
		plan, join, err := n.bootstrapPlan(ctx)
		if err != nil {
			_ = g.Shutdown()
			return nil, err
		}
		so.InitialShards, so.Join = plan, join
	}
	st, err := shard.Open(ctx, so)
	if err != nil {
		_ = g.Shutdown()
		return nil, err
	}
	n.store = st
	n.events.Store(st)
	n.driver = newDriver(n)
	if !joined && len(n.liveNodes()) <= 1 {
		n.wg.Add(1)
		go n.retryJoin()
	}
	n.wg.Add(2)
	go n.refreshLoop()
	go n.driver.run()
	return n, nil
}

// hasData reports whether dir holds a node's state already.
func hasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "kv"))
	return err == nil
}

// bootstrapPlan decides, for a node without data, whether it founds a new
// cluster (and with which shards) or joins an existing one.
func (n *Node) bootstrapPlan(ctx context.Context) ([]shard.Descriptor, bool, error) {
	o := n.opts
	expect := o.BootstrapExpect
	if expect == 0 {
		if len(o.Seeds) > 0 {
			return nil, true, nil
		}
		expect = 1
	}
	var ids []raftpb.NodeID
	for i := 1; ; i++ {
		ids = n.liveNodes()
		if len(ids) >= expect {
			break
		}
		if i%10 == 0 && len(o.Seeds) > 0 {
			_, _ = n.gossip.Join(o.Seeds) // seeds that were not up yet
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("placement: waiting for %d nodes to bootstrap (%d seen: %v): %w", expect, len(ids), ids, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	ids = ids[:expect]
	if !slices.Contains(ids, o.Store.NodeID) {
		return nil, true, nil
	}
	plan, err := InitialPlan(ids, o.InitialShards, o.Store.SplitKeys, o.SplitKeyFormat, o.SplitKeyRange, o.Plan.Replicas, o.Plan.MetaReplicas)
	n.log.Info("placement: bootstrapping a new cluster", "nodes", ids, "shards", len(plan))
	return plan, false, err
}

// InitialPlan lays out a new cluster on nodes (sorted): the meta shard on
// the first min(metaReplicas, len) nodes, and shards user shards split at
// splitKeys (or evenly in format over [0, keyRange)), shard i on
// min(replicas, len) consecutive nodes starting at node i mod len, so
// replicas and leaders start balanced. Every bootstrapping node computes
// the same plan.
func InitialPlan(nodes []raftpb.NodeID, shards int, splitKeys [][]byte, format string, keyRange uint64, replicas, metaReplicas int) ([]shard.Descriptor, error) {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	keys := splitKeys
	if keys == nil && shards > 1 {
		var err error
		if keys, err = shard.EvenSplitKeys(format, 0, keyRange, shards); err != nil {
			return nil, err
		}
	}
	pick := func(first, k int) []raftpb.NodeID {
		k = min(k, len(nodes))
		out := make([]raftpb.NodeID, 0, k)
		for j := range k {
			out = append(out, nodes[(first+j)%len(nodes)])
		}
		slices.Sort(out)
		return out
	}
	plan := []shard.Descriptor{{ID: shard.MetaShardID, Replicas: pick(0, metaReplicas)}}
	bounds := append(append([][]byte{nil}, keys...), nil)
	for i := 0; i+1 < len(bounds); i++ {
		plan = append(plan, shard.Descriptor{ID: shard.ShardID(i + 1), Start: bounds[i], End: bounds[i+1], Replicas: pick(i, replicas)})
	}
	return plan, nil
}

// liveNodes lists the alive and suspect members, sorted by ID.
func (n *Node) liveNodes() []raftpb.NodeID {
	var ids []raftpb.NodeID
	for _, m := range n.gossip.Members() {
		if m.State.Live() {
			ids = append(ids, m.NodeID)
		}
	}
	slices.Sort(ids)
	return ids
}

// retryJoin keeps trying the seeds until this node sees another member.
func (n *Node) retryJoin() {
	defer n.wg.Done()
	for len(n.liveNodes()) <= 1 {
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if _, err := n.gossip.Join(n.opts.Seeds); err == nil {
			return
		}
	}
}

// Store returns the node's store (for client requests).
func (n *Node) Store() *shard.Store { return n.store }

// Gossip returns the node's membership.
func (n *Node) Gossip() *gossip.Gossip { return n.gossip }

// refreshLoop keeps the cache in step with the meta shard.
func (n *Node) refreshLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.opts.RefreshInterval)
	defer t.Stop()
	for {
		if err := n.refresh(n.ctx); err != nil && n.ctx.Err() == nil {
			n.log.Debug("placement: meta refresh failed", "err", err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refresh reloads the cache if the meta shard's version moved.
func (n *Node) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := shard.Linearizable
	if n.hostsMeta() {
		c = shard.Stale
	}
	kvs, err := n.store.ScanShard(ctx, shard.MetaShardID, []byte(keyVersion), []byte(keyVersion+"\x00"), 1, c)
	if err != nil {
		return err
	}
	var v int64
	if len(kvs) == 1 {
		fmt.Sscan(string(kvs[0].Value), &v)
	}
	if v == n.cache.loadedVersion() && v != 0 {
		return nil
	}
	t, err := readTable(ctx, n.store, c)
	if err != nil {
		return err
	}
	n.cache.load(t)
	n.m.metaRefreshes.Add(1)
	return nil
}

// hostsMeta reports whether this node has an initialized meta replica.
func (n *Node) hostsMeta() bool {
	hosted, _ := n.store.Hosts(shard.MetaShardID)
	return hosted
}

// leadsMeta reports whether this node leads the meta shard (and so runs
// the driver).
func (n *Node) leadsMeta() bool {
	_, leader := n.store.Hosts(shard.MetaShardID)
	return leader
}

// Close leaves gossip gracefully and stops the driver, the refresher and
// the store.
func (n *Node) Close() error {
	var err error
	n.closed.Do(func() {
		n.cancel()
		n.wg.Wait()
		err = errors.Join(n.gossip.Leave(2*time.Second), n.store.Close())
	})
	return err
}

// Kill stops the node without leaving gossip (as a crash would, short of
// the process dying): others see it dead after the failure detector's
// timeout.
func (n *Node) Kill() error {
	var err error
	n.closed.Do(func() {
		n.cancel()
		n.wg.Wait()
		err = errors.Join(n.gossip.Shutdown(), n.store.Close())
	})
	return err
}
