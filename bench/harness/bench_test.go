package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/server"
)

// smokeConfig is a run of tiny sizes: each scenario runs for real, only
// small and short.
func smokeConfig(t *testing.T) config {
	t.Helper()
	return config{groups: []int{4}, clients: []int{4}, sizes: []int{16}, logMBs: []int{1},
		scanLimit: 10, keys: 200, duration: 400 * time.Millisecond, dir: t.TempDir(), seed: 1,
		logger: discardLogger(), walSegmentBytes: 4 << 20, ringBytes: 4 << 20}
}

// runScenario plans and runs one scenario and returns its results. It
// may run on any goroutine (it reports with t.Errorf only).
func runScenario(t *testing.T, cfg config, scenario string) []Result {
	t.Helper()
	steps, err := plan(scenario, cfg)
	if err != nil {
		t.Error(err)
		return nil
	}
	var out bytes.Buffer
	results, err := runSteps(context.Background(), cfg, steps, &out)
	if err != nil {
		t.Errorf("%s: %v", scenario, err)
		return nil
	}
	if n := strings.Count(out.String(), "\n"); n != len(steps) {
		t.Errorf("%s: %d JSON lines for %d steps:\n%s", scenario, n, len(steps), out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("bad JSON line %q: %v", line, err)
			continue
		}
		for _, k := range []string{"system", "workload", "groups", "clients", "size", "ops", "seconds", "ops_per_sec",
			"p50_us", "p99_us", "p999_us", "cpu_cores", "fsyncs_per_sec", "entries_per_fsync",
			"heartbeat_frames_per_sec", "rss_mb"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: JSON line lacks %s: %s", scenario, k, line)
			}
		}
	}
	return results
}

// TestScenariosSmoke runs every scenario at once (t.Parallel would run
// only GOMAXPROCS of them at a time, and most of their time is waiting
// for elections and fsyncs, not CPU).
func TestScenariosSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters")
	}
	var wg sync.WaitGroup
	for _, sc := range []string{"write", "read", "mixed", "scan", "idle", "ceiling", "ceiling3", "wal", "failover", "recovery", "rebalance"} {
		cfg := smokeConfig(t)
		if sc == "recovery" {
			cfg.sizes = []int{1024} // 1 MB in about a thousand writes
		}
		wg.Go(func() {
			start := time.Now()
			results := runScenario(t, cfg, sc)
			t.Logf("%s: %v", sc, time.Since(start).Round(time.Millisecond))
			for _, r := range results {
				check := func(ok bool, what string) {
					t.Helper()
					if !ok {
						t.Errorf("%s: %s: %+v", r.Workload, what, r)
					}
				}
				check(r.RSSMB > 0 && r.Seconds > 0, "no RSS or no window")
				switch r.Workload {
				case "idle":
					check(r.Replicas == 3*cfg.groups[0], "replica count")
					// Replicas, Raft groups and the WALs' tail caches are
					// live heap: the growth cannot be zero or negative.
					check(r.HeapPerReplicaBytes > 0, "no heap growth per replica")
				case "failover":
					check(r.LeadersLost > 0 && r.FailoverMs > 0 && r.ElectionTimeouts > 0, "no failover figures")
				case "recovery":
					check(r.LogMB >= 1 && r.OpenSeconds > 0 && r.LeadersSeconds >= r.OpenSeconds && r.WALRecoveredMB > 0,
						"no recovery figures")
				case "rebalance":
					check(r.RebalanceSeconds > 0 && r.OpsPerSecBeforeRebalance > 0 && r.Ops > 0, "no rebalance figures")
				case "ceiling", "ceiling3", "wal":
				default:
					check(r.Ops > 0 && r.OpsPerSec > 0 && r.P50us > 0 && r.P99us >= r.P50us && len(r.LatencyUs) > 0,
						"no operations measured")
				}
				// The disk scenarios get no check on their figures: a
				// window this short may fall inside one fsync stalled by
				// other processes' disk traffic (it did, on the shared
				// machine), and then nothing finishes inside it.
				if r.Workload == "wal" && r.Ops > 0 && results[0].Ops > 0 {
					check(r.CeilingRatio > 0 && r.EntriesPerFsync >= 1, "no ratio to the ceiling")
				}
			}
		})
	}
	wg.Go(func() { smokeRESP(t) })
	wg.Wait()
}

// smokeRESP runs the RESP workloads through go-redis against servers in
// front of an in-process cluster, as -addrs does against a running one.
func smokeRESP(t *testing.T) {
	cfg := smokeConfig(t)
	ctx := context.Background()
	c, _, err := newKVCluster(ctx, cfg, step{groups: 4})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.close()
	for _, st := range c.stores {
		srv, err := server.New(server.Options{Store: st, ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			t.Error(err)
			return
		}
		defer srv.Close()
		cfg.addrs = append(cfg.addrs, srv.ClientAddr())
	}
	for _, r := range runScenario(t, cfg, strings.Join(respWorkloads(), ",")) {
		if r.System != "flotilla-resp" || r.Ops == 0 || r.Groups != 4 || r.FsyncsPerSec+r.EntriesPerFsync < 0 {
			t.Errorf("RESP %s: %+v", r.Workload, r)
		}
		if r.CPUCores <= 0 || r.RSSMB <= 0 {
			t.Errorf("RESP %s: the server process (this one) is local, yet no CPU or RSS: %+v", r.Workload, r)
		}
	}
}

func TestPlanSweeps(t *testing.T) {
	cfg := config{groups: []int{64, 256}, clients: []int{16, 256}, sizes: []int{16, 1024}, logMBs: []int{64}}
	steps, err := plan("write", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 8 {
		t.Fatalf("write sweep: %d steps, want 2x2x2", len(steps))
	}
	steps, err = plan("mixed,idle,wal", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.workload)
	}
	// mixed: 8 points x 2 mixes; idle: one per shard count; wal: a
	// ceiling before each WAL point (2 clients x 2 sizes).
	if want := 16 + 2 + 8; len(steps) != want {
		t.Fatalf("%d steps (%v), want %d", len(steps), names, want)
	}
	if _, err := plan("nosuch", cfg); err == nil {
		t.Fatal("unknown scenario accepted")
	}
	cfg.addrs = []string{"127.0.0.1:1"}
	if _, err := plan("failover", cfg); err == nil {
		t.Fatal("failover accepted with -addrs")
	}
}

func TestWriteOutPlots(t *testing.T) {
	dir := t.TempDir()
	var results []Result
	for _, g := range []int{64, 1024} {
		for _, c := range []int{16, 256} {
			results = append(results, Result{System: "flotilla", Workload: "write", Groups: g, Clients: c, Size: 16,
				OpsPerSec: float64(g + c), P50us: 100, P99us: 1000, LatencyUs: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}})
		}
	}
	if err := writeOut(dir, "go run ./bench", results); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.jsonl", "results.md", "throughput-shards.svg", "throughput-clients.svg", "latency-write.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".svg") && (!bytes.HasPrefix(b, []byte("<svg")) || bytes.Count(b, []byte("<polyline")) < 2) {
			t.Errorf("%s: not an SVG with lines:\n%s", f, b)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
