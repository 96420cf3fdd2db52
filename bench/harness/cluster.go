package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
	"github.com/flotilladb/flotilla/transport"
	"github.com/flotilladb/flotilla/wal"
)

// clusterNodes is the size of the in-process cluster: three replicas per
// shard, one per node.
const clusterNodes = 3

// cluster is three shard.Stores in this process, talking over the real
// TCP transport on loopback, each with its own data directory and WAL.
//
// The harness builds each node's transport itself and hands it to the
// store (shard.Options.Transport), so that it can read the transport's
// counters (heartbeat frames); the store does not expose them. The
// transport is the one the store would build, with the same options,
// except that the store's PeerUnreachable hook (which makes leaders stop
// streaming appends to an unreachable peer) is not wired: it matters only
// while a peer is down, that is in the failover scenario.
type cluster struct {
	cfg   config
	dir   string
	rmDir bool
	ks    keySpace
	addrs []string
	res   *transport.StaticResolver
	peers map[raftpb.NodeID]string
	// openTimes[i] is how long node i's last shard.Open took.
	openTimes []time.Duration

	// mu guards the nodes, which the failover scenario closes while the
	// counters are read. Only the goroutine running the scenario opens
	// and closes nodes.
	mu     sync.Mutex
	trs    []*transport.Transport
	stores []*shard.Store // stores[i] is node i+1; nil once closed
	// hbBase holds the heartbeat frames of transports already closed, so
	// that the cluster's count never goes back.
	hbBase, readHBBase uint64
}

// startCluster opens the three stores under cfg.dir (a fresh temporary
// directory when it is empty), bootstrapped with ks's split keys. Every
// store option is the default except those set here and cfg.workers.
func startCluster(ctx context.Context, cfg config, ks keySpace) (*cluster, error) {
	dir, err := os.MkdirTemp(cfg.dir, "flotilla-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{cfg: cfg, dir: dir, rmDir: true, ks: ks, res: &transport.StaticResolver{},
		addrs: make([]string, clusterNodes), peers: make(map[raftpb.NodeID]string, clusterNodes),
		trs: make([]*transport.Transport, clusterNodes), stores: make([]*shard.Store, clusterNodes),
		openTimes: make([]time.Duration, clusterNodes)}
	if err := c.openAll(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// openAll opens every node that is not open, in parallel.
func (c *cluster) openAll(ctx context.Context) error {
	errs := make([]error, clusterNodes)
	hs := make([]*lateHandler, clusterNodes)
	// Transports first, so that every address is known before a store
	// starts sending.
	for i := range clusterNodes {
		if c.stores[i] == nil {
			hs[i], errs[i] = c.listen(i)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i := range clusterNodes {
		if hs[i] != nil {
			wg.Go(func() { errs[i] = c.openStore(ctx, i, hs[i]) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// listen starts node i's transport, on its previous address if it had one.
func (c *cluster) listen(i int) (*lateHandler, error) {
	id := raftpb.NodeID(i + 1)
	addr := c.addrs[i]
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	h := &lateHandler{}
	tr, err := transport.New(transport.Options{NodeID: id, ClusterID: shard.DefaultClusterID,
		ListenAddr: addr, Resolver: c.res, Logger: c.cfg.logger}, h)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", id, err)
	}
	c.mu.Lock()
	c.trs[i] = tr
	c.mu.Unlock()
	c.addrs[i] = tr.Addr().String()
	c.res.Set(id, c.addrs[i])
	c.peers[id] = c.addrs[i]
	return h, nil
}

func (c *cluster) openStore(ctx context.Context, i int, h *lateHandler) error {
	id := raftpb.NodeID(i + 1)
	start := time.Now()
	s, err := shard.Open(ctx, shard.Options{
		Dir: filepath.Join(c.dir, fmt.Sprintf("node%d", id)), NodeID: id,
		Peers: c.peers, SplitKeys: c.ks.splitKeys(), Logger: c.cfg.logger,
		Workers: c.cfg.workers, MaxSyncingRounds: c.cfg.syncingRounds,
		Transport: c.trs[i], DisableQuiesce: c.cfg.noQuiesce, WAL: wal.Options{SegmentBytes: c.cfg.walSegmentBytes},
	})
	if err != nil {
		return fmt.Errorf("opening node %d: %w", id, err)
	}
	c.openTimes[i] = time.Since(start)
	h.s.Store(s)
	c.mu.Lock()
	c.stores[i] = s
	c.mu.Unlock()
	return nil
}

// lateHandler passes what a transport receives to a store that is opened
// after the transport (the store needs its transport to open). Messages
// that arrive before are dropped, as a lossy network would.
type lateHandler struct{ s atomic.Pointer[shard.Store] }

var (
	_ transport.Handler     = (*lateHandler)(nil)
	_ transport.CallHandler = (*lateHandler)(nil)
)

func (h *lateHandler) HandleMessages(batch []raftpb.Message) {
	if s := h.s.Load(); s != nil {
		s.Handler().HandleMessages(batch)
	}
}

func (h *lateHandler) HandleSnapshot(ctx context.Context, msg raftpb.Message, data io.Reader) error {
	s := h.s.Load()
	if s == nil {
		return errors.New("bench: store not open yet")
	}
	return s.Handler().HandleSnapshot(ctx, msg, data)
}

func (h *lateHandler) HandleCall(ctx context.Context, from raftpb.NodeID, req []byte) []byte {
	s := h.s.Load()
	if s == nil {
		return nil
	}
	return s.HandleCall(ctx, from, req)
}

// closeNode closes node i: its transport first, so that its peers see
// the node vanish from the network at once, then its store.
func (c *cluster) closeNode(i int) error {
	tr, s := c.detach(i)
	var errs []error
	if tr != nil {
		errs = append(errs, tr.Close())
	}
	if s != nil {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// detach takes node i out of the cluster (open, counters, leaderCount no
// longer see it) and returns its transport and store for the caller to
// close.
func (c *cluster) detach(i int) (*transport.Transport, *shard.Store) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tr, s := c.trs[i], c.stores[i]
	c.trs[i], c.stores[i] = nil, nil
	if tr != nil {
		m := tr.Metrics()
		c.hbBase += m.HeartbeatFramesSent
		c.readHBBase += m.ReadHeartbeatFramesSent
	}
	return tr, s
}

// close closes every node and removes the data directory.
func (c *cluster) close() error {
	var errs []error
	for i := range c.stores {
		errs = append(errs, c.closeNode(i))
	}
	if c.rmDir {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// counters sums the open stores' WAL and message counters and their
// transports' heartbeat frames.
func (c *cluster) counters() counterSnapshot {
	c.mu.Lock()
	stores := append([]*shard.Store(nil), c.stores...)
	trs := append([]*transport.Transport(nil), c.trs...)
	cs := counterSnapshot{hbFrames: c.hbBase, readHBFrames: c.readHBBase}
	c.mu.Unlock()
	for i, s := range stores {
		if s == nil {
			continue
		}
		m := s.Metrics()
		cs.fsyncs += m.Fsyncs
		// Metrics reports entries as a mean per fsync; undo the division.
		cs.entries += uint64(m.EntriesPerSync*float64(m.Fsyncs) + 0.5)
		cs.messages += m.MessagesSent
		cs.rounds += m.Rounds
		cs.roundGroups += uint64(m.GroupsPerRound*float64(m.Rounds) + 0.5)
		cs.walBatches += m.WALBatches
		cs.forwarded += m.Forwarded
		cs.replicas += m.Replicas
		cs.quiesced += m.QuiescedReplicas
		if tr := trs[i]; tr != nil {
			tm := tr.Metrics()
			cs.hbFrames += tm.HeartbeatFramesSent
			cs.readHBFrames += tm.ReadHeartbeatFramesSent
		}
	}
	return cs
}

// open returns the stores that are open.
func (c *cluster) open() []*shard.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*shard.Store
	for _, s := range c.stores {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// waitLeaders returns once every shard has a leader that serves a
// linearizable read, with rt's cache holding each shard's leader, or ctx
// ends.
func (c *cluster) waitLeaders(ctx context.Context, rt *router, parallel int) error {
	if err := c.learnLeaders(ctx, rt); err != nil {
		return err
	}
	if err := c.probeShards(ctx, rt, parallel); err != nil {
		return err
	}
	return c.learnLeaders(ctx, rt) // an election may have moved some
}

// leaderCount returns how many shards have a leader on an open node, as
// that node itself reports (a follower's belief about a dead leader does
// not count), and stores each into rt's cache when rt is not nil.
func (c *cluster) leaderCount(rt *router) int {
	known := make([]bool, c.ks.groups())
	n := 0
	for _, s := range c.open() {
		for _, st := range s.Shards() {
			j := int(st.Desc.ID - firstShardID)
			if st.Leader != s.NodeID() || j < 0 || j >= len(known) || known[j] {
				continue
			}
			if rt != nil {
				rt.leaders[j].Store(uint64(st.Leader))
			}
			known[j] = true
			n++
		}
	}
	return n
}

// learnLeaders polls the stores until every shard has a leader on an open
// node, and puts the leaders into rt's cache. NB: a store that forwards
// requests to the leader answers a request sent to a follower without a
// NotLeaderError, so the cache would never learn from hints.
func (c *cluster) learnLeaders(ctx context.Context, rt *router) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		n := c.leaderCount(rt)
		if n == c.ks.groups() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d shards have no leader: %w", c.ks.groups()-n, c.ks.groups(), ctx.Err())
		case <-t.C:
		}
	}
}

// firstShardID is the ID of the first shard the stores bootstrap (their
// default); shard i of the key space has ID firstShardID+i.
const firstShardID = 1

// probeShards returns once every shard has served a linearizable read.
func (c *cluster) probeShards(ctx context.Context, rt *router, parallel int) error {
	shards := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			var key []byte
			for i := range shards {
				key = formatKey(key[:0], c.ks.firstKey(i))
				err := rt.do(ctx, i, func(s *shard.Store) error {
					_, _, err := s.Get(ctx, key)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("shard %d has no leader: %w", i, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range c.ks.groups() {
		select {
		case shards <- i:
		case err = <-errs:
			break feed
		}
	}
	close(shards)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// waitQuiesced polls until every replica is quiesced or ctx ends; it
// returns the last count.
func (c *cluster) waitQuiesced(ctx context.Context) counterSnapshot {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		cs := c.counters()
		if cs.quiesced >= cs.replicas {
			return cs
		}
		select {
		case <-ctx.Done():
			return cs
		case <-t.C:
		}
	}
}
