package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/placement"
	"github.com/flotilladb/flotilla/placement/gossip"
	placementplan "github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// maxRebalanceWait bounds the wait for the cluster to balance after the
// fourth node joins (the clients stop at the window's end; the wait may
// go on past it).
const maxRebalanceWait = 10 * time.Minute

// runRebalance: a placement-managed cluster of 3 nodes (gossip on
// loopback, bootstrap-expect 3) with s.groups shards of 3 replicas;
// s.clients clients write random keys through the nodes for the window,
// and a quarter into it a fourth node joins. The result says how long
// until the cluster was balanced again (no move in flight and nothing
// left in the planner's plan) and the client throughput before the join
// and between the join and the balance.
func runRebalance(ctx context.Context, cfg config, s step) (Result, error) {
	parent := cfg.dir
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "flotilla-bench-rebalance-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	ks := newKeySpace(s.groups)
	addrs, err := freePorts(8)
	if err != nil {
		return Result{}, err
	}
	opts := func(id int) placement.Options {
		return placement.Options{
			Store: shard.Options{Dir: filepath.Join(dir, fmt.Sprintf("node%d", id)), NodeID: raftpb.NodeID(id),
				ListenAddr: addrs[2*(id-1)], SplitKeys: ks.splitKeys(), Logger: cfg.logger, Workers: cfg.workers},
			Gossip:          gossip.Config{BindAddr: addrs[2*(id-1)+1], Profile: gossip.Loopback},
			Seeds:           []string{addrs[1]},
			BootstrapExpect: 3,
			InitialShards:   s.groups,
			Plan:            placementplan.Config{MaxMovesPerNode: 4, MaxMoves: 16},
			DriverInterval:  500 * time.Millisecond,
			Logger:          cfg.logger,
		}
	}
	setup := cfg.setup
	if setup <= 0 {
		setup = 10 * time.Minute
	}
	setupCtx, cancel := context.WithTimeout(ctx, setup)
	defer cancel()
	nodes := make([]*placement.Node, 4)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { nodes[i], errs[i] = placement.Open(setupCtx, opts(i+1)) })
	}
	wg.Wait()
	defer func() {
		for _, n := range nodes {
			if n != nil {
				_ = n.Close()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return Result{}, err
		}
	}
	if err := waitBalanced(setupCtx, nodes[0], 3); err != nil {
		return Result{}, fmt.Errorf("rebalance: the first three nodes: %w", err)
	}

	var done atomic.Int64
	var joinedAt, balancedAt time.Time
	var opsAtJoin, opsAtBalance int64
	var joinErr error
	during := func(ctx context.Context) {
		if sleepUntil(ctx, time.Now().Add(cfg.duration/4)) != nil {
			return
		}
		joinedAt, opsAtJoin = time.Now(), done.Load()
		o := opts(4)
		o.BootstrapExpect = 0
		if nodes[3], joinErr = placement.Open(context.WithoutCancel(ctx), o); joinErr != nil {
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxRebalanceWait)
		defer cancel()
		if joinErr = waitBalanced(wctx, nodes[0], 4); joinErr == nil {
			balancedAt, opsAtBalance = time.Now(), done.Load()
		}
	}
	started := time.Now()
	res, _, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		counters: placementCounters(nodes), prof: cfg.prof, progress: cfg.progress, label: s.label(),
		during: during,
		newOp: func(i int) clientOp {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)))
			val := randomValue(rng, s.size)
			var key []byte
			return func(ctx context.Context) error {
				key = formatKey(key[:0], rng.Uint32())
				err := nodes[i%3].Store().Put(ctx, key, val)
				if err == nil {
					done.Add(1)
				}
				return err
			}
		},
	})
	if err == nil {
		err = joinErr
	}
	if err != nil {
		return Result{}, err
	}
	res.System, res.Workload = "flotilla", s.workload
	res.Groups, res.Clients, res.Size = s.groups, s.clients, s.size
	res.RebalanceSeconds = balancedAt.Sub(joinedAt).Seconds()
	res.OpsPerSecBeforeRebalance = float64(opsAtJoin) / joinedAt.Sub(started).Seconds()
	if res.RebalanceSeconds > 0 {
		res.OpsPerSecDuringRebalance = float64(opsAtBalance-opsAtJoin) / res.RebalanceSeconds
	}
	res.Note = fmt.Sprintf("3 nodes, a 4th joins %v into the window; balanced %.1f s later (writes kept running through it; the window's ops_per_sec covers before and during)", cfg.duration/4, res.RebalanceSeconds)
	return res, nil
}

// waitBalanced waits until n's view shows want live nodes, every shard
// with a leader, no move in flight and nothing the planner would do.
func waitBalanced(ctx context.Context, n *placement.Node, want int) error {
	for {
		st, err := n.Status(ctx)
		if err == nil && len(st.Moves) == 0 && len(st.Plan) == 0 && len(st.Nodes) >= want {
			led, live := true, 0
			for _, sh := range st.Shards {
				led = led && sh.Leader != raftpb.None
			}
			for _, nd := range st.Nodes {
				if nd.Liveness == "alive" && nd.Replicas > 0 {
					live++
				}
			}
			if led && live >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not balanced: %w (last error %v)", ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// placementCounters sums the nodes' WAL counters (the nodes that exist at
// each reading).
func placementCounters(nodes []*placement.Node) func() counterSnapshot {
	return func() counterSnapshot {
		var c counterSnapshot
		for _, n := range nodes {
			if n == nil {
				continue
			}
			m := n.Store().Metrics()
			c.fsyncs += m.Fsyncs
			c.entries += uint64(m.EntriesPerSync * float64(m.Fsyncs))
			c.messages += m.MessagesSent
			c.forwarded += m.Forwarded
			c.replicas += m.Replicas
			c.quiesced += m.QuiescedReplicas
		}
		return c
	}
}

// freePorts returns n loopback addresses whose ports were free a moment
// ago.
func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
