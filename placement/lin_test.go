package placement

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/flotilladb/flotilla/internal/lincheck"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

var seedFlag = flag.Uint64("placement.seed", 0, "seed of the placement tests' workloads (0: from the clock)")

// testSeed returns -placement.seed or a seed from the clock, and makes
// sure a failure names it.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: rerun with -run '^%s$' -placement.seed=%d", seed, t.Name(), seed)
		}
	})
	return seed
}

// ids lists the running nodes, sorted.
func (c *testCluster) ids() []raftpb.NodeID {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]raftpb.NodeID, 0, len(c.nodes))
	for id := range c.nodes {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Budgets of one client operation: one attempt (the store forwards and
// retries inside it), and all attempts.
const (
	linAttempt = 3 * time.Second
	linBudget  = 15 * time.Second
)

// linHistory records a run: the porcupine history of the hot keys
// (lincheck.History), and the acknowledged writes whose presence the
// final reads check.
type linHistory struct {
	*lincheck.History

	mu sync.Mutex
	// inserted: unique keys written once each; true once acknowledged.
	inserted map[string]bool
	// incrAcked counts the acknowledged increments of each counter key.
	incrAcked map[string]int
	stats     struct{ gaveUp, inserts int }
}

func newLinHistory() *linHistory {
	return &linHistory{History: lincheck.NewHistory(), inserted: map[string]bool{}, incrAcked: map[string]int{}}
}

func (h *linHistory) event(format string, args ...any) { h.Event("placement", format, args...) }

func (h *linHistory) record(op porcupine.Operation) {
	h.Record(op)
	if in, out := op.Input.(lincheck.Input), op.Output.(lincheck.Output); in.Kind == lincheck.Incr && !out.Unknown {
		h.mu.Lock()
		h.incrAcked[in.Key]++
		h.mu.Unlock()
	}
}

// notApplied reports whether a write's error says for certain that it
// took no effect (so it may be retried): anything else is recorded as
// of unknown outcome.
func notApplied(err error) bool {
	var nl *shard.NotLeaderError
	return errors.As(err, &nl) || errors.Is(err, shard.ErrNoQuorum) || errors.Is(err, shard.ErrProposalDropped) ||
		errors.Is(err, shard.ErrNoShard)
}

// linClient is one sequential client sending each operation to a random
// running node.
type linClient struct {
	c        *testCluster
	h        *linHistory
	rng      *rand.Rand
	id, name int
	seq      int
	regs     []string
	counters []string
}

func (cl *linClient) next() lincheck.Input {
	cl.seq++
	value := fmt.Sprintf("c%d.%d", cl.name, cl.seq)
	p := cl.rng.IntN(20)
	if p < 4 {
		key := cl.counters[cl.rng.IntN(len(cl.counters))]
		if p == 0 {
			return lincheck.Input{Kind: lincheck.Get, Key: key}
		}
		return lincheck.Input{Kind: lincheck.Incr, Key: key}
	}
	key := cl.regs[cl.rng.IntN(len(cl.regs))]
	switch {
	case p < 11:
		return lincheck.Input{Kind: lincheck.Get, Key: key}
	case p < 16:
		return lincheck.Input{Kind: lincheck.Put, Key: key, Value: value}
	default:
		if cl.rng.IntN(6) == 0 {
			value = ""
		}
		expected := cl.h.LastSeen(key)
		if cl.rng.IntN(5) == 0 {
			expected = ""
		}
		return lincheck.Input{Kind: lincheck.CAS, Key: key, Value: value, Expected: expected}
	}
}

func (cl *linClient) store() *shard.Store {
	ids := cl.c.ids()
	for len(ids) > 0 {
		if n := cl.c.node(ids[cl.rng.IntN(len(ids))]); n != nil {
			return n.Store()
		}
	}
	return nil
}

func linCall(ctx context.Context, s *shard.Store, in lincheck.Input) (lincheck.Output, error) {
	key := []byte(in.Key)
	switch in.Kind {
	case lincheck.Get:
		v, found, err := s.Get(ctx, key)
		if !found {
			v = nil
		}
		return lincheck.Output{OK: true, Value: string(v)}, err
	case lincheck.Put:
		return lincheck.Output{OK: true}, s.Put(ctx, key, []byte(in.Value))
	case lincheck.Incr:
		v, err := s.Incr(ctx, key, 1)
		return lincheck.Output{OK: true, Value: strconv.FormatInt(v, 10)}, err
	}
	var expected, value []byte
	if in.Expected != "" {
		expected = []byte(in.Expected)
	}
	if in.Value != "" {
		value = []byte(in.Value)
	}
	err := s.CompareAndSwap(ctx, key, expected, value)
	var cf *shard.CondFailedError
	if errors.As(err, &cf) {
		out := lincheck.Output{}
		if cf.Exists {
			out.Value = string(cf.Current)
		}
		return out, nil
	}
	return lincheck.Output{OK: err == nil}, err
}

// do runs in to an outcome and records it; it reports whether the
// outcome is known. A read that never succeeds and a write that surely
// took no effect leave no trace.
func (cl *linClient) do(in lincheck.Input, budget time.Duration) bool {
	call := cl.h.Now()
	deadline := time.Now().Add(budget)
	for time.Now().Before(deadline) {
		s := cl.store()
		ctx, cancel := context.WithTimeout(context.Background(), linAttempt)
		out, err := linCall(ctx, s, in)
		cancel()
		if err == nil {
			cl.h.record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: out, Return: cl.h.Now()})
			return true
		}
		if in.Kind != lincheck.Get && !notApplied(err) {
			cl.h.record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: lincheck.Output{Unknown: true}})
			cl.id = cl.h.NewClient() // the open operation keeps the old ID busy to the end
			return false
		}
	}
	cl.h.mu.Lock()
	cl.h.stats.gaveUp++
	cl.h.mu.Unlock()
	return false
}

// insert writes a key of its own once; acknowledged, it must be there at
// the end.
func (cl *linClient) insert() {
	key := fmt.Sprintf("k%06d/c%d.%d", cl.rng.IntN(1_000_000), cl.name, cl.seq)
	cl.seq++
	cl.h.mu.Lock()
	cl.h.inserted[key] = false
	cl.h.stats.inserts++
	cl.h.mu.Unlock()
	deadline := time.Now().Add(linBudget)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), linAttempt)
		err := cl.store().Put(ctx, []byte(key), []byte(key))
		cancel()
		if err == nil {
			cl.h.mu.Lock()
			cl.h.inserted[key] = true
			cl.h.mu.Unlock()
			return
		}
		if !notApplied(err) {
			return
		}
	}
}

// TestMovesUnderLoadAreLinearizable runs clients on a small set of hot
// keys (gets, puts, CASes and increments, each sent to a random node)
// while a fourth node joins and the cluster rebalances onto it, and then
// while a first node is drained, which moves a replica of every shard.
// The history must be linearizable, and no acknowledged write may be
// missing at the end.
func TestMovesUnderLoadAreLinearizable(t *testing.T) {
	seed := testSeed(t)
	shards := 16
	if testing.Short() {
		shards = 8
	}
	c := newTestCluster(t, 3, shards, nil)
	t.Cleanup(c.close) // NB: before the data directories are removed
	c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
	// Hot keys spread over the key space, so over the shards.
	var regs, counters []string
	for i := range 8 {
		regs = append(regs, fmt.Sprintf("k%06d", (2*i+1)*1_000_000/16))
	}
	for i := range 4 {
		counters = append(counters, fmt.Sprintf("k%06d", (2*i+1)*1_000_000/8+1))
	}
	h := newLinHistory()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		cl := &linClient{c: c, h: h, rng: rand.New(rand.NewPCG(seed, uint64(i+1))), id: h.NewClient(), name: i,
			regs: regs, counters: counters}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if cl.rng.IntN(10) == 0 {
					cl.insert()
				} else {
					cl.do(cl.next(), linBudget)
				}
			}
		}()
	}
	stopClients := func() {
		if done != nil {
			close(done)
			wg.Wait()
			done = nil
		}
	}
	t.Cleanup(stopClients)

	c.waitFor(30*time.Second, "some load", func(Status) bool {
		ok, _ := h.Counts()
		return ok > 20
	})
	h.event("add node 4")
	c.addAddrs(4)
	if err := c.open(4, 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.waitFor(3*time.Minute, "balance after adding node 4", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3, 4}, 3)
	})
	t.Logf("balanced onto node 4 under load in %v", time.Since(start).Round(time.Millisecond))
	h.event("drain node 1")
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if p, err := c.node(3).Drain(ctx, 1, true); err != nil {
		t.Fatalf("drain of node 1: %v (%+v)", err, p)
	}
	c.waitFor(time.Minute, "every shard fully replicated off node 1", func(st Status) bool {
		_, ok := fullyReplicatedOn(st, []raftpb.NodeID{2, 3, 4}, 3)
		return ok && len(st.Moves) == 0
	})
	t.Logf("drained node 1 under load in %v", time.Since(start).Round(time.Millisecond))
	stopClients()

	// Final reads, in the history: they pin down what writes of unknown
	// outcome did, and an acknowledged write that was lost shows here.
	final := &linClient{c: c, h: h, rng: rand.New(rand.NewPCG(seed, 0xf1)), id: h.NewClient()}
	finalValue := map[string]string{}
	for _, k := range append(slices.Clone(regs), counters...) {
		if !final.do(lincheck.Input{Kind: lincheck.Get, Key: k}, time.Minute) {
			t.Fatalf("no linearizable read of %s after the moves", k)
		}
		finalValue[k] = h.Last().Output.(lincheck.Output).Value
	}
	lost := 0
	for _, k := range counters {
		if got, acked := lincheck.CounterValue(finalValue[k]), h.incrAcked[k]; got < int64(acked) {
			t.Errorf("counter %s is %d after %d acknowledged increments", k, got, acked)
			lost += acked - int(got)
		}
	}
	fctx, fcancel := context.WithTimeout(context.Background(), time.Minute)
	defer fcancel()
	acked := 0
	for key, ok := range h.inserted {
		if !ok {
			continue
		}
		acked++
		if _, found, err := c.node(2).Store().Get(fctx, []byte(key)); err != nil || !found {
			t.Errorf("acknowledged insert of %s missing after the moves (err %v)", key, err)
			lost++
		}
	}
	history := h.Finish()
	st := h.stats
	ok, unknown := h.Counts()
	t.Logf("%d hot-key ops (%d of unknown outcome), %d given up; %d inserts (%d acknowledged); %d acknowledged writes lost",
		ok+unknown, unknown, st.gaveUp, st.inserts, acked, lost)
	if ok < 200 {
		t.Fatalf("only %d operations completed; the check would prove little", ok)
	}
	checkLinearizable(t, seed, history, h.Events())
}

// checkLinearizable checks history (lincheck.Check).
func checkLinearizable(t *testing.T, seed uint64, history []porcupine.Operation, events []porcupine.Annotation) {
	t.Helper()
	lincheck.Check(t, seed, history, events, "")
}
