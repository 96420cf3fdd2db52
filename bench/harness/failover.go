package harness

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// electionTimeout is the stores' election timeout (default options).
const electionTimeout = shard.DefaultElectionTicks * shard.DefaultTickInterval

// maxFailoverWait bounds the wait for every shard to have a leader again.
const maxFailoverWait = 60 * time.Second

// failoverStopAt is where in the window the node is stopped: the load
// runs steady before, and the window's rest shows the recovery.
func failoverStopAt(window time.Duration) time.Duration { return window / 4 }

// runFailover: s.clients clients write random keys to s.groups shards;
// a quarter into the window the node leading the most shards is stopped
// (its transport closed, so it vanishes from the network at once, then
// its store), and the others are told it is dead (Store.NodeDead, what
// the membership layer does once it notices; its detection time is not
// in the figures). The result says how long until every shard had a
// leader on a live node again, in milliseconds and in election
// timeouts, and the first and last request that failed.
//
// Clients make one attempt per request, with a deadline of one election
// timeout, and count every failure (they pause 10 ms after one); they
// skip the stopped node as if its connection were refused.
func runFailover(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	rt.once = true
	var stoppedAt, ledAgain time.Time
	var lost, victim int
	var failErr error
	during := func(ctx context.Context) {
		if sleepUntil(ctx, time.Now().Add(failoverStopAt(cfg.duration))) != nil {
			return
		}
		victim, stoppedAt, ledAgain, lost, failErr = stopLeaderNode(ctx, c, rt)
	}
	res, tallies, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		counters: c.counters, prof: cfg.prof, progress: cfg.progress, label: s.label(),
		during: during, errTimes: true,
		newOp: func(i int) clientOp {
			write := writeOp(rt, cfg.seed, i, s.size, nil)
			return func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, electionTimeout)
				defer cancel()
				return write(ctx)
			}
		},
	})
	if err == nil {
		err = failErr
	}
	if err != nil {
		return Result{}, err
	}
	res.System, res.Workload = "flotilla", s.workload
	res.Groups, res.Clients, res.Size = s.groups, s.clients, s.size
	res.LeadersLost = lost
	res.FailoverMs = float64(ledAgain.Sub(stoppedAt)) / float64(time.Millisecond)
	res.ElectionTimeouts = float64(ledAgain.Sub(stoppedAt)) / float64(electionTimeout)
	var first, last time.Time
	var before int
	for i := range tallies {
		for _, t := range tallies[i].errTimes {
			if t.Before(stoppedAt) {
				before++
				continue
			}
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	if !first.IsZero() {
		res.FirstErrorMs = float64(first.Sub(stoppedAt)) / float64(time.Millisecond)
		res.LastErrorMs = float64(last.Sub(stoppedAt)) / float64(time.Millisecond)
	}
	res.Note = fmt.Sprintf("node %d stopped %v into the window; NodeDead at once; request deadline %v",
		victim, failoverStopAt(cfg.duration), electionTimeout)
	if before > 0 {
		res.Note += fmt.Sprintf("; %d requests failed before the stop", before)
	}
	return res, nil
}

// stopLeaderNode stops the node leading the most shards, tells the others
// it is dead, and waits until every shard has a leader on a live node. It
// returns the node, when it was stopped, when every shard was led again,
// and how many shards the node led.
func stopLeaderNode(ctx context.Context, c *cluster, rt *router) (node int, stopped, led time.Time, lost int, err error) {
	counts := make([]int, clusterNodes)
	for _, s := range c.open() {
		for _, st := range s.Shards() {
			if st.Leader == s.NodeID() {
				counts[s.NodeID()-1]++
			}
		}
	}
	victim := slices.Index(counts, slices.Max(counts))
	lost = counts[victim]
	stopped = time.Now()
	rt.down[victim].Store(true)
	// Like kill -9: the node falls silent at once (its transport closes,
	// so none of its leaders' heartbeats can reach a survivor after the
	// survivors forget them), membership tells the survivors, and only
	// then is the rest of the node shut down, its store's Close (which
	// flushes and can take seconds with 1,000 shards) running beside the
	// elections as a dead process's would not: it costs CPU the
	// elections could use, so this is the harder case.
	tr, vs := c.detach(victim)
	if tr != nil {
		if err := tr.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: failover: closing node %d's transport: %v\n", victim+1, err)
		}
	}
	for _, s := range c.open() {
		s.NodeDead(raftpb.NodeID(victim + 1))
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if vs == nil {
			return
		}
		if err := vs.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: failover: closing node %d: %v\n", victim+1, err)
		}
	}()
	defer func() { <-closed }()
	wctx, cancel := context.WithTimeout(ctx, maxFailoverWait)
	defer cancel()
	// Every 20 ms (a fiftieth of an election timeout): Shards walks every
	// replica, and a faster poll would take CPU from the elections it
	// measures.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if n := c.leaderCount(nil); n == c.ks.groups() {
			return victim + 1, stopped, time.Now(), lost, nil
		}
		select {
		case <-wctx.Done():
			n := c.leaderCount(nil)
			return victim + 1, stopped, time.Now(), lost, fmt.Errorf("failover: %d of %d shards still without a leader after %v",
				c.ks.groups()-n, c.ks.groups(), maxFailoverWait)
		case <-t.C:
		}
	}
}
