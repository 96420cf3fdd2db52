package shard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/flotilladb/flotilla/internal/lincheck"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// Budgets of one client operation: each attempt at one node, and all the
// attempts of one operation (following leader hints, riding out
// elections).
const (
	linAttemptTimeout = 400 * time.Millisecond
	linOpBudget       = 1500 * time.Millisecond
	linRetryPause     = 2 * time.Millisecond
)

// linRecorder collects the history of a linearizability run
// (lincheck.History) and what the shard tests check besides it.
type linRecorder struct {
	*lincheck.History

	mu sync.Mutex
	// written holds every value ever sent to each key, for the check of
	// stale reads (which are not in the history).
	written map[string]map[string]bool
	stats   linStats
}

type linStats struct {
	gaveUp, staleReads, faults int
}

func newLinRecorder() *linRecorder {
	return &linRecorder{History: lincheck.NewHistory(), written: map[string]map[string]bool{}}
}

func (r *linRecorder) event(format string, args ...any) {
	r.mu.Lock()
	r.stats.faults++
	r.mu.Unlock()
	r.Event("nemesis", format, args...)
}

// count adds to one of stats' counters.
func (r *linRecorder) count(f func(*linStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

// noteWrite registers a value before it is sent.
func (r *linRecorder) noteWrite(key, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written[key] == nil {
		r.written[key] = map[string]bool{}
	}
	r.written[key][value] = true
}

func (r *linRecorder) wasWritten(key, value string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return value == "" || r.written[key][value]
}

// guess picks the expected value of a CAS: usually the last value seen.
func (r *linRecorder) guess(key string, rng *rand.Rand) string {
	if rng.IntN(5) == 0 {
		return ""
	}
	return r.LastSeen(key)
}

// linClient is one sequential client. It follows NotLeaderError hints
// (what a node without a Caller answers, and what a forwarded request
// meets when hints cross during an election).
type linClient struct {
	c     *testCluster
	rec   *linRecorder
	rng   *rand.Rand
	id    int
	name  int
	seq   int
	keys  []string
	hints map[string]raftpb.NodeID
	// read is the consistency of gets: Linearizable, or Lease.
	read Consistency
}

func (cl *linClient) next() lincheck.Input {
	key := cl.keys[cl.rng.IntN(len(cl.keys))]
	cl.seq++
	value := fmt.Sprintf("c%d.%d", cl.name, cl.seq)
	switch p := cl.rng.IntN(10); {
	case p < 4:
		return lincheck.Input{Kind: lincheck.Get, Key: key}
	case p < 7:
		cl.rec.noteWrite(key, value)
		return lincheck.Input{Kind: lincheck.Put, Key: key, Value: value}
	default:
		if cl.rng.IntN(6) == 0 {
			value = "" // delete
		} else {
			cl.rec.noteWrite(key, value)
		}
		return lincheck.Input{Kind: lincheck.CAS, Key: key, Value: value, Expected: cl.rec.guess(key, cl.rng)}
	}
}

// pick chooses the node to try: the hinted leader if it runs, otherwise
// a random running node.
func (cl *linClient) pick(key string) (raftpb.NodeID, *Store) {
	if id, ok := cl.hints[key]; ok {
		if s := cl.c.node(id); s != nil {
			return id, s
		}
	}
	live := cl.c.live()
	if len(live) == 0 {
		return raftpb.None, nil
	}
	id := live[cl.rng.IntN(len(live))]
	return id, cl.c.node(id)
}

// linCall runs in against one store; gets read at consistency read.
func linCall(ctx context.Context, s *Store, in lincheck.Input, read Consistency) (lincheck.Output, error) {
	key := []byte(in.Key)
	switch in.Kind {
	case lincheck.Get:
		v, found, err := s.Get(ctx, key, read)
		if err != nil {
			return lincheck.Output{}, err
		}
		if !found {
			v = nil
		}
		return lincheck.Output{OK: true, Value: string(v)}, nil
	case lincheck.Put:
		return lincheck.Output{OK: true}, s.Put(ctx, key, []byte(in.Value))
	}
	var expected, value []byte
	if in.Expected != "" {
		expected = []byte(in.Expected)
	}
	if in.Value != "" {
		value = []byte(in.Value)
	}
	err := s.CompareAndSwap(ctx, key, expected, value)
	var cf *CondFailedError
	if errors.As(err, &cf) {
		out := lincheck.Output{}
		if cf.Exists {
			out.Value = string(cf.Current)
		}
		return out, nil
	}
	return lincheck.Output{OK: err == nil}, err
}

// notApplied reports whether err says for certain that a write took no
// effect, so that it may be retried.
func notApplied(err error) bool {
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) {
		return false
	}
	var nl *NotLeaderError
	return errors.As(err, &nl) || errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrProposalDropped)
}

// do runs one operation to an outcome and records it. A read that never
// succeeds, or a write that certainly never took effect, leaves no trace.
// A write whose effect is unknown is recorded as such, and the client
// continues under a new ID (its unknown operation stays open to the end).
func (cl *linClient) do(in lincheck.Input, budget time.Duration) bool {
	call := cl.rec.Now()
	deadline := time.Now().Add(budget)
	for time.Now().Before(deadline) {
		id, s := cl.pick(in.Key)
		if s == nil {
			time.Sleep(linRetryPause)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), linAttemptTimeout)
		out, err := linCall(ctx, s, in, cl.read)
		cancel()
		if err == nil {
			cl.hints[in.Key] = id
			cl.rec.Record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: out, Return: cl.rec.Now()})
			return true
		}
		var nl *NotLeaderError
		if errors.As(err, &nl) && nl.Leader != raftpb.None && nl.Leader != id {
			cl.hints[in.Key] = nl.Leader
		} else {
			delete(cl.hints, in.Key)
		}
		if in.Kind != lincheck.Get && !notApplied(err) {
			cl.rec.Record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: lincheck.Output{Unknown: true}})
			cl.id = cl.rec.NewClient()
			return false
		}
		time.Sleep(linRetryPause)
	}
	cl.rec.count(func(s *linStats) { s.gaveUp++ })
	return false
}

// linConfig is one linearizability run.
type linConfig struct {
	nodes, shards, keys, clients int
	duration                     time.Duration
	// maxDown bounds the nodes the nemesis keeps stopped at once.
	maxDown int
	// leaseReads turns on Options.LeaseReads and has clients read at
	// Lease consistency.
	leaseReads bool
	// slowDisk runs every node's WAL and pebble on a fault-injecting file
	// system that delays a seeded share of writes and syncs (slowDisks).
	slowDisk bool
	// syncingRounds is Options.MaxSyncingRounds (0: the default).
	syncingRounds int
}

// runLinearizability runs cfg's workload against a fresh in-memory cluster
// under a seeded nemesis (partitions, one-way cuts, isolated nodes, nodes
// stopped and restarted on their data directory), then checks the history
// of linearizable operations with porcupine. Stale reads run beside it;
// they are not in the history (they may legitimately lag) but must only
// return values some client wrote.
func runLinearizability(t *testing.T, cfg linConfig) {
	seed := linTestSeed(t)
	if testing.Short() {
		cfg.duration /= 2
	}
	if *linDuration > 0 {
		cfg.duration = *linDuration
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c696e))
	// Small logs, so that restarted nodes also catch up by snapshot.
	c := newMemClusterTweaked(t, cfg.nodes, cfg.shards, seed, func(id raftpb.NodeID, o *Options) {
		o.MaxLogEntries = 64
		o.LeaseReads = cfg.leaseReads
		o.MaxSyncingRounds = cfg.syncingRounds
		if cfg.slowDisk {
			fs := slowDisks(seed, id)
			o.WAL.FS, o.KV.FS = fs, fs
		}
	})
	read := Linearizable
	if cfg.leaseReads {
		read = Lease
	}
	keys := make([]string, cfg.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%06d", (i*1000000+500000)/cfg.keys)
	}
	rec := newLinRecorder()
	var stop sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < cfg.clients; i++ {
		cl := &linClient{c: c, rec: rec, rng: rand.New(rand.NewPCG(seed, uint64(i+1))), id: rec.NewClient(),
			name: i, keys: keys, hints: map[string]raftpb.NodeID{}, read: read}
		stop.Add(1)
		go func() {
			defer stop.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				cl.do(cl.next(), linOpBudget)
			}
		}()
	}
	stop.Add(1)
	go func() {
		defer stop.Done()
		staleReader(t, c, rec, keys, rand.New(rand.NewPCG(seed, 0x57a1e)), done)
	}()

	linNemesis(c, rec, rng, cfg, time.Now().Add(cfg.duration))
	close(done)
	stop.Wait()

	// Heal, restart everything, and read every key once more: these reads
	// pin down what the writes of unknown outcome did.
	c.net.Heal()
	c.net.SetFaults(transport.Faults{})
	for id := raftpb.NodeID(1); id <= raftpb.NodeID(cfg.nodes); id++ {
		if c.node(id) == nil {
			c.start(id)
		}
	}
	final := &linClient{c: c, rec: rec, rng: rand.New(rand.NewPCG(seed, 0xf1)), id: rec.NewClient(),
		keys: keys, hints: map[string]raftpb.NodeID{}}
	for _, k := range keys {
		if !final.do(lincheck.Input{Kind: lincheck.Get, Key: k}, 20*time.Second) {
			t.Fatalf("seed %d: the healed cluster could not serve a linearizable read of %s", seed, k)
		}
	}
	history := rec.Finish()
	var st linStats
	rec.count(func(s *linStats) { st = *s })
	ok, unknown := rec.Counts()
	t.Logf("seed %d: %d ops (%d of unknown outcome), %d given up, %d stale reads, %d faults",
		seed, ok+unknown, unknown, st.gaveUp, st.staleReads, st.faults)
	if ok < 50 {
		t.Fatalf("seed %d: only %d operations completed; the check would prove nothing", seed, ok)
	}
	checkLinearizable(t, seed, history, rec.Events())
}

// staleReader reads random keys at Stale consistency from random nodes
// until done, checking that each value was written by some client.
func staleReader(t *testing.T, c *testCluster, rec *linRecorder, keys []string, rng *rand.Rand, done chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		live := c.live()
		if len(live) == 0 {
			time.Sleep(linRetryPause)
			continue
		}
		s := c.node(live[rng.IntN(len(live))])
		if s == nil {
			continue
		}
		key := keys[rng.IntN(len(keys))]
		v, found, err := s.Get(context.Background(), []byte(key), Stale)
		if err != nil {
			continue // the node closed under us
		}
		if !found {
			v = nil
		}
		if !rec.wasWritten(key, string(v)) {
			t.Errorf("stale read of %s returned %q, which no client wrote", key, v)
		}
		rec.count(func(s *linStats) { s.staleReads++ })
		time.Sleep(time.Millisecond) // a background reader, not a hot loop
	}
}

// linNemesis injects one fault at a time until the deadline: a network
// fault (partition, one-way cut, isolated node, or loss, duplication,
// delay and reordering on every link) replaces the previous one; stopped
// nodes come back later.
func linNemesis(c *testCluster, rec *linRecorder, rng *rand.Rand, cfg linConfig, until time.Time) {
	down := map[raftpb.NodeID]bool{}
	all := make([]raftpb.NodeID, cfg.nodes)
	for i := range all {
		all[i] = raftpb.NodeID(i + 1)
	}
	heal := func() {
		c.net.Heal()
		c.net.SetFaults(transport.Faults{})
	}
	for time.Now().Before(until) {
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond) // how long the current fault lasts
		switch rng.IntN(8) {
		case 0:
			heal()
			rec.event("heal")
		case 1:
			heal()
			n := all[rng.IntN(len(all))]
			c.net.Isolate(n)
			rec.event("isolate %d", n)
		case 2:
			heal()
			perm := rng.Perm(len(all))
			k := 1 + rng.IntN((len(all)-1)/2)
			var minority, majority []raftpb.NodeID
			for i, p := range perm {
				if i < k {
					minority = append(minority, all[p])
				} else {
					majority = append(majority, all[p])
				}
			}
			c.net.Partition(minority, majority)
			rec.event("partition %v | %v", minority, majority)
		case 3:
			heal()
			a := all[rng.IntN(len(all))]
			b := all[(int(a)+rng.IntN(len(all)-1))%len(all)]
			c.net.Cut(a, b)
			rec.event("cut %d -> %d", a, b)
		case 4, 5:
			if len(down) < cfg.maxDown {
				live := c.live()
				n := live[rng.IntN(len(live))]
				c.stopNode(n)
				down[n] = true
				rec.event("stop %d", n)
			}
		case 7:
			heal()
			c.net.SetFaults(transport.Faults{DropRate: 0.1, DuplicateRate: 0.05, MaxDelay: 3 * time.Millisecond,
				ReorderRate: 0.1, ReorderWindow: 5 * time.Millisecond})
			rec.event("lossy network")
		case 6:
			for _, n := range all {
				if down[n] {
					c.start(n)
					delete(down, n)
					rec.event("restart %d", n)
					break
				}
			}
		}
	}
}

func newTestRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }
