package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/client"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// hosts is the size of the cluster: three NodeHosts in this process, each
// with one replica of every shard.
const hosts = 3

// settings are the dragonboat settings this harness chooses. Everything
// not named here is dragonboat's default (config.GetDefaultEngineConfig,
// config.GetDefaultLogDBConfig, the built-in TCP transport, no TLS,
// its soft settings).
type settings struct {
	// rttMS is NodeHostConfig.RTTMillisecond, dragonboat's tick.
	rttMS uint64
	// electionRTT and heartbeatRTT are config.Config's ElectionRTT and
	// HeartbeatRTT, in ticks (they have no default).
	electionRTT, heartbeatRTT uint64
	// execShards is Expert.Engine.ExecShards (default 16); 0 keeps the
	// whole engine config at its default.
	execShards uint64
	// checkQuorum, preVote and quiesce are config.Config's (default off).
	checkQuorum, preVote, quiesce bool
}

// String lists the settings that differ from dragonboat's defaults.
func (s settings) String() string {
	parts := []string{
		fmt.Sprintf("RTTMillisecond=%d", s.rttMS),
		fmt.Sprintf("ElectionRTT=%d", s.electionRTT),
		fmt.Sprintf("HeartbeatRTT=%d", s.heartbeatRTT),
	}
	if s.execShards != 0 && s.execShards != config.GetDefaultEngineConfig().ExecShards {
		parts = append(parts, fmt.Sprintf("ExecShards=%d", s.execShards))
	}
	if s.checkQuorum {
		parts = append(parts, "CheckQuorum")
	}
	if s.preVote {
		parts = append(parts, "PreVote")
	}
	if s.quiesce {
		parts = append(parts, "Quiesce")
	}
	return strings.Join(parts, " ")
}

// memLimits stop a run that would take the machine's memory (or hours):
// starting replicas stops once the process's resident set passes maxRSS,
// the machine's available memory falls below minAvail, or startTimeout
// has passed.
type memLimits struct {
	maxRSS, minAvail int64
	// startTimeout bounds starting the replicas (0: no bound).
	startTimeout time.Duration
}

// errMemLimit reports a cluster that could not start within memLimits.
type errMemLimit struct {
	started, wanted int   // replicas
	rss             int64 // bytes
	avail           int64 // bytes
	timeout         time.Duration
}

func (e *errMemLimit) Error() string {
	if e.timeout > 0 {
		return fmt.Sprintf("started %d of %d replicas in %v (the limit); resident set %.1f GiB",
			e.started, e.wanted, e.timeout, float64(e.rss)/(1<<30))
	}
	return fmt.Sprintf("stopped after starting %d of %d replicas: resident set %.1f GiB, machine's available memory %.1f GiB",
		e.started, e.wanted, float64(e.rss)/(1<<30), float64(e.avail)/(1<<30))
}

// cluster is three NodeHosts on loopback TCP, each with its own data
// directory (its LogDB with fsync on), and groups shards replicated on
// all three.
type cluster struct {
	dir      string
	nhs      []*dragonboat.NodeHost // nhs[i] holds replica ID i+1 of every shard
	ks       keySpace
	sessions [][]*client.Session // sessions[h][i]: a no-op session of shard i on host h
	// leaders[i] is the replica ID believed to lead shard i (0: unknown).
	leaders  []atomic.Uint64
	applied  atomic.Uint64 // entries applied by every replica
	replicas atomic.Int64
	// setup is the time from starting the NodeHosts until every shard
	// had served a linearizable read.
	setup time.Duration
}

func shardID(i int) uint64 { return uint64(i) + 1 }

// startCluster starts the NodeHosts and groups shards on them, and waits
// until every shard has a leader that serves a linearizable read.
func startCluster(ctx context.Context, cfg runConfig, groups int) (*cluster, error) {
	dir, err := os.MkdirTemp(cfg.dir, "dragonboat-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, ks: newKeySpace(groups), leaders: make([]atomic.Uint64, groups)}
	addrs, err := freeAddrs(hosts)
	if err != nil {
		c.close()
		return nil, err
	}
	members := make(map[uint64]dragonboat.Target, hosts)
	for i, a := range addrs {
		members[uint64(i+1)] = a
	}
	s := cfg.settings
	for i, a := range addrs {
		nhc := config.NodeHostConfig{
			NodeHostDir:    filepath.Join(dir, fmt.Sprintf("nh%d", i+1)),
			RTTMillisecond: s.rttMS,
			RaftAddress:    a,
		}
		if s.execShards != 0 {
			nhc.Expert.Engine = config.GetDefaultEngineConfig()
			nhc.Expert.Engine.ExecShards = s.execShards
		}
		nh, err := dragonboat.NewNodeHost(nhc)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("starting NodeHost %d: %w", i+1, err)
		}
		c.nhs = append(c.nhs, nh)
	}
	start, t0 := time.Now(), time.Now()
	if err := c.startReplicas(ctx, members, s, cfg.mem); err != nil {
		c.close()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "dragonboat-bench: started %d replicas in %v\n", c.replicas.Load(), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	c.sessions = make([][]*client.Session, hosts)
	for h, nh := range c.nhs {
		c.sessions[h] = make([]*client.Session, groups)
		for i := range groups {
			c.sessions[h][i] = nh.GetNoOPSession(shardID(i))
		}
	}
	wctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := c.waitLeaders(wctx); err != nil {
		c.close()
		return nil, err
	}
	if err := c.probe(wctx, 64); err != nil {
		c.close()
		return nil, err
	}
	// An election may have moved some leaders since: learn them again.
	if err := c.waitLeaders(wctx); err != nil {
		c.close()
		return nil, err
	}
	c.setup = time.Since(start)
	fmt.Fprintf(os.Stderr, "dragonboat-bench: every shard has a leader that serves reads after %v\n", time.Since(t0).Round(time.Millisecond))
	return c, nil
}

// startReplicas starts every shard's replica on every host, a few at a
// time, watching memory.
func (c *cluster) startReplicas(ctx context.Context, members map[uint64]dragonboat.Target, s settings, lim memLimits) error {
	groups := c.ks.groups()
	t0 := time.Now()
	var next atomic.Int64
	var memErr atomic.Pointer[errMemLimit]
	var wg sync.WaitGroup
	errs := make([]error, 4*hosts)
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= groups*hosts || memErr.Load() != nil || ctx.Err() != nil {
					return
				}
				if lim.startTimeout > 0 && time.Since(t0) > lim.startTimeout {
					memErr.CompareAndSwap(nil, &errMemLimit{started: int(c.replicas.Load()), wanted: groups * hosts,
						rss: rssBytes(), avail: memAvailable(), timeout: lim.startTimeout})
					return
				}
				// Start shard by shard on all hosts, so that a shard's
				// replicas start close together.
				shard, host := i/hosts, i%hosts
				rc := config.Config{
					ShardID: shardID(shard), ReplicaID: uint64(host + 1),
					ElectionRTT: s.electionRTT, HeartbeatRTT: s.heartbeatRTT,
					CheckQuorum: s.checkQuorum, PreVote: s.preVote, Quiesce: s.quiesce,
				}
				create := func(uint64, uint64) sm.IStateMachine {
					return &kvSM{data: make(map[string][]byte), applied: &c.applied}
				}
				if err := c.nhs[host].StartReplica(members, false, create, rc); err != nil {
					errs[w] = fmt.Errorf("starting shard %d replica %d: %w", shard+1, host+1, err)
					return
				}
				n := c.replicas.Add(1)
				if n%256 == 0 {
					rss, avail := rssBytes(), memAvailable()
					if (lim.maxRSS > 0 && rss > lim.maxRSS) || (lim.minAvail > 0 && avail > 0 && avail < lim.minAvail) {
						memErr.CompareAndSwap(nil, &errMemLimit{started: int(n), wanted: groups * hosts, rss: rss, avail: avail})
					}
				}
			}
		})
	}
	wg.Wait()
	if e := memErr.Load(); e != nil {
		return e
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// setupTimeout bounds waiting for leaders.
const setupTimeout = 5 * time.Minute

// waitLeaders polls until every shard has been seen with a leader (not
// necessarily all at the same moment: on a starved CPU dragonboat's
// groups keep electing, and the clients' retries absorb that), caching
// the leaders it sees.
func (c *cluster) waitLeaders(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	seen := make([]bool, c.ks.groups())
	nseen := 0
	for {
		now := 0
		for i := range c.ks.groups() {
			for _, nh := range c.nhs {
				id, _, ok, err := nh.GetLeaderID(shardID(i))
				if err == nil && ok && id >= 1 && id <= hosts {
					c.leaders[i].Store(id)
					now++
					if !seen[i] {
						seen[i] = true
						nseen++
					}
					break
				}
			}
		}
		if nseen == c.ks.groups() {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "dragonboat-bench: %d of %d shards have a leader now, %d have had one\n", now, c.ks.groups(), nseen)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d shards never had a leader: %w", c.ks.groups()-nseen, c.ks.groups(), ctx.Err())
		case <-t.C:
		}
	}
}

// probe returns once every shard has answered a linearizable read.
func (c *cluster) probe(ctx context.Context, parallel int) error {
	var next atomic.Int64
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			var key []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= c.ks.groups() {
					return
				}
				key = formatKey(key[:0], c.ks.firstKey(i))
				if err := c.do(ctx, i, func(nh *dragonboat.NodeHost, h int) error {
					_, err := c.syncRead(ctx, nh, i, string(key))
					return err
				}); err != nil {
					errs[w] = fmt.Errorf("shard %d: %w", i+1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// opTimeout bounds one request (dragonboat's Sync calls need a deadline).
const opTimeout = 5 * time.Second

func (c *cluster) syncRead(ctx context.Context, nh *dragonboat.NodeHost, i int, key string) (lookupResult, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, err := nh.SyncRead(ctx, shardID(i), key)
	if err != nil {
		return lookupResult{}, err
	}
	return v.(lookupResult), nil
}

func (c *cluster) syncPropose(ctx context.Context, h, i int, cmd []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := c.nhs[h].SyncPropose(ctx, c.sessions[h][i], cmd)
	return err
}

// maxBackoff bounds the pause between attempts.
const maxBackoff = 20 * time.Millisecond

// do runs op at the host believed to lead shard i, until it succeeds,
// fails in a way a retry cannot fix, or ctx ends; like the main
// harness's router, it learns the leader again after a retryable error.
func (c *cluster) do(ctx context.Context, i int, op func(nh *dragonboat.NodeHost, h int) error) error {
	backoff := time.Millisecond
	for {
		id := c.leaders[i].Load()
		if id == 0 {
			id = uint64(i%hosts) + 1
		}
		err := op(c.nhs[id-1], int(id-1))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		if l, _, ok, lerr := c.nhs[id-1].GetLeaderID(shardID(i)); lerr == nil && ok && l >= 1 && l <= hosts {
			c.leaders[i].Store(l)
		} else {
			c.leaders[i].Store(id%hosts + 1)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func retryable(err error) bool {
	return errors.Is(err, dragonboat.ErrShardNotReady) || errors.Is(err, dragonboat.ErrTimeout) ||
		errors.Is(err, dragonboat.ErrSystemBusy) || errors.Is(err, dragonboat.ErrShardNotInitialized) ||
		errors.Is(err, dragonboat.ErrCanceled) || errors.Is(err, dragonboat.ErrAborted) ||
		errors.Is(err, dragonboat.ErrRejected) || errors.Is(err, dragonboat.ErrShardNotFound) ||
		errors.Is(err, context.DeadlineExceeded)
}

// close stops the NodeHosts and removes the data directory.
func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, nh := range c.nhs {
		wg.Go(nh.Close)
	}
	wg.Wait()
	_ = os.RemoveAll(c.dir)
}

// freeAddrs picks n free loopback TCP addresses. NB: a port is free when
// picked; another process could take it before the NodeHost listens.
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
