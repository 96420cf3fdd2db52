package plan

import (
	"flag"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var (
	flagSeed  = flag.Uint64("seed", 0, "run the simulations with this seed only (0: the built-in seeds)")
	flagSeeds = flag.Int("seeds", 0, "random-cluster simulations to run (default 16, 4 with -short)")
)

// seeds returns the seeds 1..n (1..short with -short), or the one -seed
// names.
func seeds(n, short int) []uint64 {
	if *flagSeed != 0 {
		return []uint64{*flagSeed}
	}
	if testing.Short() {
		n = short
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

func withSeed(t *testing.T, seed uint64, f func(t *testing.T)) {
	t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("replay with: go test ./placement/plan -run '%s' -seed %d", t.Name(), seed)
			}
		})
		f(t)
	})
}

// run plans and applies actions until Plan returns nothing with nothing in
// flight, checking every step's actions; it fails after maxSteps steps. It
// returns the number of steps taken.
func (m *model) run(t *testing.T, maxSteps, maxDelay int) int {
	t.Helper()
	for step := 0; step < maxSteps; step++ {
		m.tick(t)
		// Checking that Plan leaves its input alone costs a deep copy, so
		// only every 16th step.
		var before Cluster
		if step%16 == 0 {
			before = m.c.clone()
		}
		acts := Plan(m.c, m.cfg)
		if step%16 == 0 && !reflect.DeepEqual(m.c, before) {
			t.Fatalf("step %d: Plan changed its input", step)
		}
		checkActions(t, m.c, m.cfg, acts)
		if len(acts) == 0 && len(m.c.InFlight) == 0 {
			return step
		}
		m.start(t, acts, maxDelay)
	}
	t.Fatalf("no fixed point after %d steps", maxSteps)
	return 0
}

func testConfig() Config {
	cfg := Config{DeadTimeout: time.Minute}
	cfg.EnsureDefaults()
	return cfg
}

// TestSimAddNode: 3 nodes with 1,024 shards of 3 replicas, then a 4th
// node joins and must take its share of replicas and leaderships.
func TestSimAddNode(t *testing.T) {
	for _, seed := range seeds(2, 1) {
		withSeed(t, seed, func(t *testing.T) {
			m := newModel(seed, testConfig(), 3, 1024, 3, true)
			m.run(t, 50, 0)
			checkConverged(t, m.c, m.cfg)
			m.c.Nodes = append(m.c.Nodes, Node{ID: 4, Capacity: 1 << 40})
			// The new node must reach 691 replicas (the band's floor),
			// 2 at a time (MaxMovesPerNode): 346 steps at best.
			steps := m.run(t, 400, 0)
			checkConverged(t, m.c, m.cfg)
			t.Logf("4th node balanced in %d steps", steps)
		})
	}
}

// TestSimDeadNode: 5 nodes, one Dead past the timeout: its replicas are
// re-replicated elsewhere and the rest rebalanced.
func TestSimDeadNode(t *testing.T) {
	for _, seed := range seeds(2, 1) {
		withSeed(t, seed, func(t *testing.T) {
			m := newModel(seed, testConfig(), 5, 1024, 3, true)
			m.run(t, 50, 0)
			m.setState(3, Dead, 2*m.cfg.DeadTimeout)
			// About 615 replicas to re-create, 8 at a time (MaxMoves; the
			// dead source does not count against MaxMovesPerNode): 77
			// steps at best.
			steps := m.run(t, 120, 0)
			checkConverged(t, m.c, m.cfg)
			t.Logf("dead node replaced in %d steps", steps)
		})
	}
}

// TestSimDrain: 5 nodes, one Draining: it ends with no replicas and no
// leaderships, and the rest stay balanced.
func TestSimDrain(t *testing.T) {
	for _, seed := range seeds(2, 1) {
		withSeed(t, seed, func(t *testing.T) {
			m := newModel(seed, testConfig(), 5, 1024, 3, true)
			m.run(t, 50, 0)
			m.setState(2, Draining, 0)
			// About 615 replicas to move, 2 at a time (the draining
			// source counts against MaxMovesPerNode): 308 steps at best.
			steps := m.run(t, 400, 0)
			checkConverged(t, m.c, m.cfg)
			t.Logf("node drained in %d steps", steps)
		})
	}
}

// TestSimSlowMoves runs the three scenarios with moves that take up to 4
// steps, so the limits are tested against moves in flight.
func TestSimSlowMoves(t *testing.T) {
	for _, seed := range seeds(2, 1) {
		withSeed(t, seed, func(t *testing.T) {
			m := newModel(seed, testConfig(), 4, 512, 3, true)
			m.run(t, 500, 4)
			checkConverged(t, m.c, m.cfg)
			m.c.Nodes = append(m.c.Nodes, Node{ID: 5}, Node{ID: 6})
			m.setState(1, Dead, 2*m.cfg.DeadTimeout)
			m.setState(2, Draining, 0)
			m.run(t, 3000, 4)
			checkConverged(t, m.c, m.cfg)
		})
	}
}

// TestSimRandom: random clusters with random events between runs (nodes
// join, die, come back, drain, are decommissioned), random limits, and
// splits. After each event the planner must reach a fixed point that meets
// the goals.
func TestSimRandom(t *testing.T) {
	n := *flagSeeds
	if n == 0 {
		n = 16
	}
	for _, seed := range seeds(n, min(n, 4)) {
		withSeed(t, seed, func(t *testing.T) { simRandom(t, seed) })
	}
}

func simRandom(t *testing.T, seed uint64) {
	m := newModel(seed, Config{}, 0, 0, 0, false)
	r := m.rng
	m.cfg = Config{
		DeadTimeout: time.Minute,
		// Odd counts of at least 3, so that losing one node leaves every
		// shard a quorum and the planner can repair it.
		Replicas:           3 + 2*r.IntN(2),
		MetaReplicas:       3 + 2*r.IntN(2),
		MaxMovesPerNode:    1 + r.IntN(4),
		MaxMoves:           1 + r.IntN(12),
		MaxLeaderTransfers: 1 + r.IntN(40),
		MaxSplits:          1 + r.IntN(3),
	}
	if r.IntN(2) == 0 {
		m.cfg.Tolerance = 0.05 + 0.2*r.Float64()
	}
	m.cfg.EnsureDefaults()
	*m = *newModel(seed, m.cfg, 3+r.IntN(5), 20+r.IntN(300), m.cfg.Replicas, true)
	r = m.rng
	if r.IntN(2) == 0 {
		m.cfg.SplitSizeBytes = 256 << 20 // grown below
	}
	m.cfg.BalanceLoad = r.IntN(2) == 0
	delay := r.IntN(4)
	t.Logf("config %v, %d nodes, %d shards, move delay <= %d", m.cfg, len(m.c.Nodes), len(m.c.Shards), delay)
	m.run(t, 5000, delay)
	checkConverged(t, m.c, m.cfg)
	nextNode := NodeID(len(m.c.Nodes) + 1)
	for event := 0; event < 6; event++ {
		if m.cfg.SplitSizeBytes > 0 {
			s := &m.c.Shards[r.IntN(len(m.c.Shards))]
			if !s.Meta {
				s.SizeBytes = 600 << 20
			}
		}
		what := m.randomEvent(&nextNode)
		steps := m.run(t, 5000, delay)
		t.Logf("event %d: %s; fixed point after %d steps", event, what, steps)
		if suspects(m.c) {
			// A Suspect node keeps its replicas until the timeout, so the
			// goals are not met yet; let the timeout pass.
			for i := range m.c.Nodes {
				if m.c.Nodes[i].State == Suspect {
					m.c.Nodes[i].DownFor = m.cfg.DeadTimeout
				}
			}
			m.run(t, 5000, delay)
		}
		checkConverged(t, m.c, m.cfg)
	}
}

func suspects(c Cluster) bool {
	for _, n := range c.Nodes {
		if n.State == Suspect {
			return true
		}
	}
	return false
}

// TestSimLoad: with BalanceLoad, leaderships move until the request rate
// every node serves as leader is within Tolerance of the mean, without
// pushing leader counts outside their band.
func TestSimLoad(t *testing.T) {
	for _, seed := range seeds(4, 2) {
		withSeed(t, seed, func(t *testing.T) {
			cfg := testConfig()
			cfg.BalanceLoad = true
			m := newModel(seed, cfg, 5, 1024, 3, true)
			// Skewed rates: the shards nodes 1 and 2 lead are four times
			// as busy, so leader counts are even but load is not.
			for i := range m.c.Shards {
				s := &m.c.Shards[i]
				s.RequestsPerSec = m.rng.ExpFloat64() * 10
				if s.Leader <= 2 {
					s.RequestsPerSec *= 4
				}
			}
			m.cfg.BalanceLoad = false
			m.run(t, 100, 0) // leader counts first, as they would be
			m.cfg.BalanceLoad = true
			before := leaderRates(m.c)
			if id, ok := ratesWithin(before, cfg.Tolerance); ok {
				t.Fatalf("load already balanced before the test (%v)", before)
			} else {
				t.Logf("node %d outside the band before", id)
			}
			steps := m.run(t, 500, 0)
			checkConverged(t, m.c, m.cfg)
			after := leaderRates(m.c)
			if id, ok := ratesWithin(after, cfg.Tolerance); !ok {
				t.Fatalf("node %d: rates %v outside %.0f%% of the mean (before: %v)", id, after, 100*cfg.Tolerance, before)
			}
			t.Logf("%d steps; rates before %v after %v", steps, before, after)
		})
	}
}

// leaderRates sums, per Live node, the request rates of the shards it
// leads.
func leaderRates(c Cluster) map[NodeID]float64 {
	out := map[NodeID]float64{}
	for _, n := range c.Nodes {
		if n.State == Live {
			out[n.ID] = 0
		}
	}
	for _, s := range c.Shards {
		if _, ok := out[s.Leader]; ok {
			out[s.Leader] += s.RequestsPerSec
		}
	}
	return out
}

// ratesWithin reports whether every rate is within tol of their mean, and
// if not, a node that is not.
func ratesWithin(rates map[NodeID]float64, tol float64) (NodeID, bool) {
	mean := 0.0
	for _, r := range rates {
		mean += r / float64(len(rates))
	}
	for id, r := range rates {
		if r > mean*(1+tol) || r < mean*(1-tol) {
			return id, false
		}
	}
	return 0, true
}

// randomEvent changes one node's state at random, or adds a node (always
// when fewer than 3 are live), and says what it did.
func (m *model) randomEvent(nextNode *NodeID) string {
	r := m.rng
	id := m.c.Nodes[r.IntN(len(m.c.Nodes))].ID
	var what string
	switch k := r.IntN(6); {
	case k == 0 || liveNodes(m.c) < 3:
		m.c.Nodes = append(m.c.Nodes, Node{ID: *nextNode})
		what = fmt.Sprintf("node %d joins", *nextNode)
		*nextNode++
	case k == 1:
		m.setState(id, Dead, 2*m.cfg.DeadTimeout)
		what = fmt.Sprintf("node %d dies", id)
	case k == 2:
		m.setState(id, Suspect, m.cfg.DeadTimeout/2)
		what = fmt.Sprintf("node %d is suspect", id)
	case k == 3:
		m.setState(id, Draining, 0)
		what = fmt.Sprintf("node %d drains", id)
	case k == 4:
		m.setState(id, Decommissioned, 0)
		what = fmt.Sprintf("node %d is decommissioned", id)
	default:
		m.setState(id, Live, 0)
		what = fmt.Sprintf("node %d is live", id)
	}
	return what
}
