package plan

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDeterministic: the same snapshot in any order gives the same actions,
// and Plan leaves its input as it found it.
func TestDeterministic(t *testing.T) {
	for _, seed := range seeds(50, 10) {
		m := newModel(seed, testConfig(), 6, 200, 3, true)
		r := m.rng
		m.setState(2, Dead, 2*time.Minute)
		m.setState(3, Draining, 0)
		m.c.Nodes = append(m.c.Nodes, Node{ID: 7})
		m.cfg.BalanceLoad = true
		m.cfg.SplitSizeBytes = 60 << 20
		m.c.InFlight = append(m.c.InFlight, Move{Shard: 5, From: m.c.Shards[5].Voters[0], To: 7})
		want := Plan(m.c, m.cfg)
		if len(want) == 0 {
			t.Fatalf("seed %d: no actions; the test needs some", seed)
		}
		c := m.c.clone()
		r.Shuffle(len(c.Nodes), func(i, j int) { c.Nodes[i], c.Nodes[j] = c.Nodes[j], c.Nodes[i] })
		r.Shuffle(len(c.Shards), func(i, j int) { c.Shards[i], c.Shards[j] = c.Shards[j], c.Shards[i] })
		for i := range c.Shards {
			v := c.Shards[i].Voters
			r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
		}
		shuffled := c.clone()
		got := Plan(c, m.cfg)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: shuffled input gave\n%v\nwant\n%v", seed, got, want)
		}
		if !reflect.DeepEqual(c, shuffled) {
			t.Fatalf("seed %d: Plan changed its input", seed)
		}
	}
}

// garbage builds a snapshot and a Config from a seed with every kind of
// bad input: duplicate and zero IDs, unknown states, negative durations,
// voters on unknown nodes, duplicate and overlapping voters and learners,
// leaders that are not voters, NaN and infinite rates, moves of unknown
// shards and nodes, and out-of-range Config fields.
func garbage(seed uint64) (Cluster, Config) {
	r := rand.New(rand.NewPCG(seed, 7))
	var c Cluster
	for range r.IntN(10) {
		c.Nodes = append(c.Nodes, Node{
			ID:       NodeID(r.IntN(9)),
			State:    NodeState(r.IntN(8) - 1),
			DownFor:  time.Duration(r.IntN(5)-2) * time.Minute,
			Capacity: r.Uint64(),
		})
	}
	ids := func() []NodeID {
		var out []NodeID
		for range r.IntN(7) {
			out = append(out, NodeID(r.IntN(11)))
		}
		return out
	}
	rates := []float64{0, 1, -1, math.NaN(), math.Inf(1), math.Inf(-1), 1e300}
	for range r.IntN(30) {
		c.Shards = append(c.Shards, Shard{
			ID:             ShardID(r.IntN(20)),
			Epoch:          r.Uint64(),
			Voters:         ids(),
			Learners:       ids(),
			Leader:         NodeID(r.IntN(11)),
			SizeBytes:      r.Uint64(),
			RequestsPerSec: rates[r.IntN(len(rates))],
			Meta:           r.IntN(5) == 0,
		})
	}
	for range r.IntN(6) {
		c.InFlight = append(c.InFlight, Move{Shard: ShardID(r.IntN(25)), From: NodeID(r.IntN(11)), To: NodeID(r.IntN(11))})
	}
	cfg := Config{
		Replicas:            r.IntN(7) - 1,
		MetaReplicas:        r.IntN(7) - 1,
		DeadTimeout:         time.Duration(r.IntN(3)) * time.Minute,
		Tolerance:           []float64{0, 0.1, -0.1, 1, math.NaN(), 0.5}[r.IntN(6)],
		MaxMovesPerNode:     r.IntN(4) - 1,
		MaxMoves:            r.IntN(10) - 1,
		MaxLeaderTransfers:  r.IntN(5) - 1,
		MaxSplits:           r.IntN(3) - 1,
		BalanceLoad:         r.IntN(2) == 0,
		MinLoadGap:          rates[r.IntN(len(rates))],
		SplitSizeBytes:      r.Uint64() >> r.IntN(64),
		SplitRequestsPerSec: rates[r.IntN(len(rates))],
	}
	return c, cfg
}

// checkGarbage runs Plan on bad input: it must not panic, must give the
// same answer twice, and must stay within the output bounds.
func checkGarbage(t *testing.T, seed uint64) {
	c, cfg := garbage(seed)
	acts := Plan(c, cfg)
	if again := Plan(c, cfg); !reflect.DeepEqual(acts, again) {
		t.Fatalf("seed %d: two calls differ:\n%v\n%v", seed, acts, again)
	}
	cfg.EnsureDefaults()
	if cfg.Validate() != nil {
		if len(acts) > 0 {
			t.Fatalf("seed %d: invalid config %v, yet actions %v", seed, cfg, acts)
		}
		return
	}
	if bound := cfg.MaxMoves + cfg.MaxLeaderTransfers + cfg.MaxSplits; len(acts) > bound {
		t.Fatalf("seed %d: %d actions, bound %d", seed, len(acts), bound)
	}
	shards := map[ShardID]bool{}
	for _, a := range acts {
		if shards[a.Shard] {
			t.Fatalf("seed %d: two actions for shard %d: %v", seed, a.Shard, acts)
		}
		shards[a.Shard] = true
		if (a.Kind == AddReplica || a.Kind == MoveReplica || a.Kind == TransferLeader) && !isLive(c, a.To) {
			t.Fatalf("seed %d: %v: target is not a live node", seed, a)
		}
	}
}

func TestBadInput(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		checkGarbage(t, seed)
	}
}

func FuzzPlan(f *testing.F) {
	for seed := uint64(1); seed <= 8; seed++ {
		f.Add(seed)
	}
	f.Fuzz(checkGarbage)
}

func TestConfig(t *testing.T) {
	var c Config
	c.EnsureDefaults()
	want := Config{Replicas: 3, MetaReplicas: 5, DeadTimeout: 5 * time.Minute, Tolerance: 0.1,
		MaxMovesPerNode: 2, MaxMoves: 8, MaxLeaderTransfers: 32, MaxSplits: 8, MinLoadGap: 100}
	if c != want {
		t.Fatalf("defaults %v, want %v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if s := c.String(); !strings.Contains(s, "Replicas=3") || !strings.Contains(s, "DeadTimeout=5m0s") {
		t.Fatalf("String() = %q", s)
	}
	small := parseCluster(t, "node 1\nnode 2\nshard 1 voters=1")
	if len(Plan(small, Config{})) == 0 {
		t.Fatal("no actions with the default config; the checks below need some")
	}
	for _, bad := range []Config{
		{Replicas: -1}, {MetaReplicas: -1}, {DeadTimeout: -1}, {Tolerance: -0.1}, {Tolerance: 1},
		{Tolerance: math.NaN()}, {MaxMovesPerNode: -1}, {MaxMoves: -1}, {MaxLeaderTransfers: -1},
		{MaxSplits: -1}, {MinLoadGap: -1}, {MinLoadGap: math.NaN()},
		{SplitRequestsPerSec: -1}, {SplitRequestsPerSec: math.NaN()},
	} {
		if bad.Validate() == nil {
			t.Errorf("%v validates", bad)
		}
		if acts := Plan(small, bad); acts != nil {
			t.Errorf("%v: Plan returned %v", bad, acts)
		}
	}
}

func TestStrings(t *testing.T) {
	if s := Dead.String(); s != "dead" {
		t.Errorf("Dead.String() = %q", s)
	}
	if s := NodeState(42).String(); s != "NodeState(42)" {
		t.Errorf("NodeState(42).String() = %q", s)
	}
	if s := ActionKind(42).String(); s != "ActionKind(42)" {
		t.Errorf("ActionKind(42).String() = %q", s)
	}
	a := Action{Kind: MoveReplica, Shard: 7, From: 1, To: 2, Reason: "why"}
	if s := a.String(); s != "move-replica shard=7 from=1 to=2 (why)" {
		t.Errorf("Action.String() = %q", s)
	}
}
