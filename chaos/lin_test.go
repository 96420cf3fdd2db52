package chaos

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linRun is one linearizability run against real processes.
type linRun struct {
	nodes, shards, clients, registers, counters int
	duration                                    time.Duration
	maxOps                                      int // per client
	faults                                      []Fault
	maxDown                                     int
	// net: each node in its own network namespace (else loopback).
	net *Net
	// placement: a gossip cluster managed by placement (else static).
	placement bool
	// ext, if set, adds to the run (disk_test.go, clock_test.go).
	ext linExt
	// deadTimeout: the placement nodes' --dead-timeout (0: the cluster's
	// default).
	deadTimeout time.Duration
	// director, when set, makes the run's fault schedule in place of
	// Nemesis.Run, and checks the healed cluster (netns_placement_test.go).
	director func(t *testing.T, c *Cluster, nm *Nemesis) director
}

// linExt adds to a linearizability run: it adapts the cluster's spec
// before the nodes start (knobs, flags), gives the nemesis faults of its
// own, and checks what it promised once the run has been checked.
type linExt interface {
	prepare(t *testing.T, spec *ClusterSpec, seed uint64)
	custom() map[Fault]func(*Nemesis) error
	check(t *testing.T, c *Cluster)
}

// director runs a run's faults through its Nemesis, in place of
// Nemesis.Run, and adds checks of its own once everything is healed.
type director interface {
	// Run injects faults until stop is closed or until passes, and
	// returns with every fault Nemesis.Heal would not undo undone.
	Run(stop <-chan struct{}, until time.Time) error
	// Settled checks the healed cluster (after the final reads) and adds
	// its figures to res; it reports failures with t.Errorf.
	Settled(t *testing.T, res *result)
}

// runLinearizable starts a cluster, runs the workload under the nemesis,
// heals everything, reads every key once more, checks the history with
// porcupine and the ledger of write-once keys, and reports the figures.
func runLinearizable(t *testing.T, first bool, test string, cfg linRun) {
	if *durationFlag > 0 {
		cfg.duration = *durationFlag
	}
	seed := testSeed(t, first, test, fmt.Sprintf("-chaos.duration=%v", cfg.duration))
	dir := artifacts(t, seed)
	bin := shardnode(t)
	var spec ClusterSpec
	if cfg.net != nil {
		spec = netnsSpec(bin, dir, cfg.net, cfg.nodes, cfg.shards)
	} else {
		spec = loopbackSpec(bin, dir, cfg.nodes, cfg.shards)
	}
	spec.Placement, spec.DeadTimeout = cfg.placement, cfg.deadTimeout
	if cfg.ext != nil {
		cfg.ext.prepare(t, &spec, seed)
	}
	started := time.Now()
	var dropped0 int64 // the Net may have served earlier runs
	if cfg.net != nil {
		dropped0 = cfg.net.Dropped()
	}
	c := startCluster(t, spec)

	rec, ledger := NewRecorder(), NewLedger()
	until := time.Now().Add(cfg.duration)
	w := &Workload{Cluster: c, Rec: rec, Ledger: ledger, Clients: cfg.clients, MaxOps: cfg.maxOps, Until: until,
		Registers: HotKeys(cfg.registers, ".r"), Counters: HotKeys(cfg.counters, ".n"), Seed: seed}
	nm := &Nemesis{Cluster: c, Net: cfg.net, Rec: rec, Rng: rand.New(rand.NewPCG(seed, 0x6e656d)), Faults: cfg.faults,
		MaxDown: cfg.maxDown, MinGap: 300 * time.Millisecond, MaxGap: 2 * time.Second, Log: t.Logf}
	if cfg.ext != nil {
		nm.Custom = cfg.ext.custom()
	}
	stop := make(chan struct{})
	nemesisDone := make(chan error, 1)
	var dr director
	if cfg.director != nil {
		dr = cfg.director(t, c, nm)
		go func() { nemesisDone <- dr.Run(stop, until) }()
	} else {
		go func() { nemesisDone <- nm.Run(stop, until, 10000) }()
	}
	w.Run()
	close(stop)
	if err := <-nemesisDone; err != nil {
		t.Fatalf("nemesis: %v", err)
	}
	if err := c.CheckExits(); err != nil {
		t.Fatalf("%v (node logs in %s)", err, dir)
	}

	// Heal, wait for every shard to have a leader, and read every key
	// again: these reads pin down what the writes of unknown outcome did.
	if err := nm.Heal(); err != nil {
		t.Fatalf("healing: %v", err)
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		dumpShards(t, c)
		t.Fatalf("after healing: %v (node logs in %s)", err, dir)
	}
	final := &client{w: w, name: -1, id: rec.NewClient(), rng: rand.New(rand.NewPCG(seed, 0xf17a1)), conns: NewConns(c.Nodes)}
	defer final.conns.Close()
	for _, k := range append(append([]string(nil), w.Registers...), w.Counters...) {
		if _, ok := final.do(Input{Kind: OpGet, Key: k}, 30*time.Second); !ok {
			t.Fatalf("seed %d: the healed cluster could not serve a read of %s in 30s", seed, k)
		}
	}
	lrep, err := ledger.Verify(c, time.Now().Add(60*time.Second))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	history, events := rec.Finish()
	counts := rec.Counts()
	timeout := 2 * time.Minute
	if longMode() {
		timeout = 10 * time.Minute
	}
	v, err := Check(history, events, timeout, dir)
	if err != nil {
		t.Errorf("writing the history: %v", err)
	}
	res := result{Seed: seed, Seconds: int(time.Since(started).Seconds()), Ops: counts.OK + counts.Unknown,
		Unknown: counts.Unknown, GaveUp: counts.GaveUp, Faults: nm.Counts(), Verdict: verdictName(v.Result),
		AckedChecked: lrep.Acked, AckedLost: len(lrep.Lost)}
	if v.Result == porcupine.Illegal {
		res.Anomalies = 1
	}
	if cfg.net != nil {
		res.Dropped = cfg.net.Dropped() - dropped0
	}
	if dr != nil {
		dr.Settled(t, &res)
	}
	report(t, res)
	t.Logf("porcupine: %s in %v over %d operations (%d of unknown outcome); ledger: %d acknowledged write-once keys read back, %d of unknown outcome not checked",
		res.Verdict, v.Took.Round(time.Millisecond), len(history), counts.Unknown, lrep.Acked, lrep.Unknown)
	if cfg.net != nil {
		t.Logf("the network faults dropped %d packets", res.Dropped)
		if strings.Contains(res.Faults, "partition") && res.Dropped == 0 {
			t.Errorf("partitions were injected but no packet was dropped: the network faults do not work")
		}
	}
	for _, l := range lrep.Lost {
		t.Errorf("seed %d: acknowledged write lost: %s", seed, l)
	}
	switch v.Result {
	case porcupine.Illegal:
		t.Fatalf("seed %d: the history is not linearizable: see %s and %s", seed, v.HTMLPath, v.TextPath)
	case porcupine.Unknown:
		t.Logf("seed %d: porcupine timed out after %v: inconclusive", seed, timeout)
	}
	if cfg.ext != nil {
		cfg.ext.check(t, c)
	}
	if counts.OK < 200 {
		t.Fatalf("seed %d: only %d operations completed; the check would prove little", seed, counts.OK)
	}
}

// dumpShards logs every running node's /api/shards (what it hosts, with
// each replica's leader and descriptor), to tell why a node is not ready.
func dumpShards(t *testing.T, c *Cluster) {
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, n := range c.Live() {
		resp, err := hc.Get("http://" + n.Spec.HTTPAddr + "/api/shards")
		if err != nil {
			t.Logf("node %d /api/shards: %v", n.Spec.ID, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.Logf("node %d /api/shards: %s", n.Spec.ID, body)
	}
}

func verdictName(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "linearizable"
	case porcupine.Illegal:
		return "NOT linearizable"
	}
	return "inconclusive (check timed out)"
}

// linDefaults is the CI size of a run; long mode runs 2 minutes.
func linDefaults(faults []Fault) linRun {
	cfg := linRun{nodes: 3, shards: 4, clients: 6, registers: 8, counters: 4, duration: 25 * time.Second,
		maxOps: 4000, faults: faults, maxDown: 1}
	if longMode() {
		cfg.duration, cfg.maxOps = 2*time.Minute, 40000
	}
	return cfg
}

// soak runs cfg once, or in long mode again and again (a fresh cluster
// and seed each time, each history checked on its own) for -chaos.soak.
func soak(t *testing.T, cfg linRun) {
	if !longMode() {
		runLinearizable(t, true, t.Name(), cfg)
		return
	}
	start := time.Now()
	for i := 0; i < 1000 && time.Since(start) < *soakFlag; i++ {
		if !t.Run(fmt.Sprintf("run%03d", i), func(t *testing.T) { runLinearizable(t, i == 0, strings.Split(t.Name(), "/")[0], cfg) }) {
			return // keep the failing run's artifacts and stop
		}
	}
}

// TestPlacementLinearizable: four shardnode processes on loopback forming
// a placement-managed cluster (3 replicas per shard), under replica moves,
// leadership transfers and splits made through the admin API, plus kill
// -9 and restart, SIGSTOP and SIGCONT.
func TestPlacementLinearizable(t *testing.T) {
	needChaos(t)
	cfg := linDefaults(append(PlacementFaults(), PlacementFaults()...))
	cfg.faults = append(cfg.faults, ProcessFaults()...)
	cfg.nodes, cfg.placement = 4, true
	soak(t, cfg)
}

// TestProcessLinearizable: three shardnode processes on loopback, kill -9
// and restart, SIGSTOP and SIGCONT.
func TestProcessLinearizable(t *testing.T) {
	needChaos(t)
	soak(t, linDefaults(ProcessFaults()))
}

// TestNetnsLinearizable: three shardnode processes, each in a network
// namespace of its own; partitions, one-way cuts, loss, slow links, and
// the process faults.
func TestNetnsLinearizable(t *testing.T) {
	needChaos(t)
	cfg := linDefaults(append(NetworkFaults(), ProcessFaults()...))
	cfg.net = testNet(t, 3)
	soak(t, cfg)
}

// testNet makes a network of n namespaces for t, removed when t ends,
// after sweeping what dead runs left; it skips t when this machine
// cannot make one.
func testNet(t *testing.T, n int) *Net {
	t.Helper()
	if why := NetUnavailable(); why != "" {
		t.Skip("network namespaces unavailable: " + why)
	}
	if gone := Sweep(); len(gone) > 0 {
		t.Logf("removed what dead runs left: %s", strings.Join(gone, ", "))
	}
	nt, err := NewNet(n, uint64(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nt.Close(); err != nil {
			t.Errorf("removing the test network: %v", err)
		}
	})
	if !nt.Netem {
		t.Logf("tc netem is not available in this kernel: lossy links drop packets (iptables statistic) without delay; slow links use tbf")
	}
	t.Logf("network %s, namespaces %s..%s", nt.Subnet(), nt.Netns(1), nt.Netns(n))
	return nt
}
