package chaos

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	chaosFlag    = flag.Bool("chaos", false, "run the chaos tests' CI set (real shardnode processes; a few minutes)")
	longFlag     = flag.Bool("long", false, "run the chaos tests in long mode (soak: longer runs, 60 kills; use -timeout 0); also FLOTILLA_CHAOS_LONG=1")
	seedFlag     = flag.Uint64("chaos.seed", 0, "seed of the run (0: from the clock); it fixes the workload's and the nemesis's choices, not the processes' timing")
	durationFlag = flag.Duration("chaos.duration", 0, "load duration of each linearizability run (0: 25s, long mode 2m)")
	soakFlag     = flag.Duration("chaos.soak", 20*time.Minute, "long mode: how long each linearizability test repeats runs (each checked on its own)")
	killsFlag    = flag.Int("chaos.kills", 0, "kill -9 rounds of the crash test (0: 5, long mode 60)")
	dirFlag      = flag.String("chaos.dir", "", "where runs keep their artifacts (histories, node logs, data); default $TMPDIR/flotilla-chaos; kept only on failure")
	resultsFlag  = flag.String("chaos.results", "", "append one JSON line of figures per run to this file")
)

// binary holds the shardnode binary the tests start, built once per test
// process.
type binary struct {
	once sync.Once
	path string
	dir  string
	err  error
}

// The one package-level value of the tests: the binary, built once, and
// removed by TestMain.
var shardnodeBin binary

// quietLog drops go-redis's own log lines (a refused dial to a killed
// node, every time): the harness classifies and counts those errors.
type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	flag.Parse()
	redis.SetLogger(quietLog{})
	code := m.Run()
	if shardnodeBin.dir != "" {
		os.RemoveAll(shardnodeBin.dir)
	}
	os.Exit(code)
}

func longMode() bool { return *longFlag || os.Getenv("FLOTILLA_CHAOS_LONG") == "1" }

// needChaos skips t unless the chaos tests were asked for.
func needChaos(t *testing.T) {
	t.Helper()
	if !*chaosFlag && !longMode() {
		t.Skip("starts real shardnode processes: run with go test ./chaos -chaos (CI set) or -long (soak)")
	}
}

// shardnode returns the binary: $FLOTILLA_CHAOS_SHARDNODE if set, or
// this module's cmd/shardnode built once into a temporary directory.
func shardnode(t *testing.T) string {
	t.Helper()
	b := &shardnodeBin
	b.once.Do(func() {
		if p := os.Getenv("FLOTILLA_CHAOS_SHARDNODE"); p != "" {
			b.path, b.err = filepath.Abs(p)
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build shardnode: %w", err)
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "flotilla-chaos-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "shardnode")
		start := time.Now()
		cmd := exec.Command(goCmd, "build", "-o", b.path, "github.com/flotilladb/flotilla/cmd/shardnode")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build shardnode: %w\n%s", err, out)
			return
		}
		t.Logf("built shardnode in %v", time.Since(start).Round(time.Millisecond))
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// testSeed returns -chaos.seed (only for the first run of a test) or a
// seed from the clock, logs it with the command that replays the run
// (test names the top-level test; flags are the run's size), and repeats
// that command on failure.
func testSeed(t *testing.T, first bool, test, flags string) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 || !first {
		seed = uint64(time.Now().UnixNano())
	}
	replay := fmt.Sprintf("go test ./chaos -run '^%s$' -chaos -chaos.seed=%d %s -timeout 0", test, seed, flags)
	t.Logf("seed %d; replay: %s", seed, replay)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d; replay: %s", seed, replay)
		}
	})
	return seed
}

// artifacts returns the run's directory (node data and logs, and the
// history on a violation). It is removed when the test passes and kept,
// with its path logged, when it fails.
func artifacts(t *testing.T, seed uint64) string {
	t.Helper()
	root := *dirFlag
	if root == "" {
		root = filepath.Join(os.TempDir(), "flotilla-chaos")
	}
	dir := filepath.Join(root, fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), seed))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("artifacts kept in %s (node logs, data directories, history)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// loopbackSpec places n nodes on addresses of their own in 127/8 (so
// their fixed ports collide with nothing on 127.0.0.1), picked from the
// process ID.
func loopbackSpec(bin, dir string, n, shards int) ClusterSpec {
	pid := os.Getpid()
	host := fmt.Sprintf("127.%d.%d", 100+(pid/250)%150, pid%250)
	port := 20000 + (pid%1000)*4
	spec := ClusterSpec{Binary: bin, Shards: shards, LogDir: dir}
	for i := 1; i <= n; i++ {
		ip := host + "." + strconv.Itoa(i)
		spec.Nodes = append(spec.Nodes, NodeSpec{ID: i, DataDir: filepath.Join(dir, fmt.Sprintf("node%d", i)),
			RaftAddr:   fmt.Sprintf("%s:%d", ip, port),
			ClientAddr: fmt.Sprintf("%s:%d", ip, port+1),
			HTTPAddr:   fmt.Sprintf("%s:%d", ip, port+2),
			GossipAddr: fmt.Sprintf("%s:%d", ip, port+3)})
	}
	return spec
}

// netnsSpec places node i at nt.Addr(i) in its own namespace.
func netnsSpec(bin, dir string, nt *Net, n, shards int) ClusterSpec {
	spec := ClusterSpec{Binary: bin, Shards: shards, LogDir: dir}
	for i := 1; i <= n; i++ {
		ip := nt.Addr(i)
		spec.Nodes = append(spec.Nodes, NodeSpec{ID: i, DataDir: filepath.Join(dir, fmt.Sprintf("node%d", i)),
			RaftAddr: ip + ":7001", ClientAddr: ip + ":6379", HTTPAddr: ip + ":7379", GossipAddr: ip + ":7946",
			Netns: nt.Netns(i)})
	}
	return spec
}

// startCluster starts spec's processes, stops them when the test ends,
// and waits until every shard has a leader.
func startCluster(t *testing.T, spec ClusterSpec) *Cluster {
	t.Helper()
	c := NewCluster(spec)
	t.Cleanup(c.Stop)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("%v (node logs in %s)", err, spec.LogDir)
	}
	return c
}

// result is one run's figures, for -chaos.results and the log.
type result struct {
	Test         string `json:"test"`
	Seed         uint64 `json:"seed"`
	Long         bool   `json:"long"`
	Seconds      int    `json:"seconds"`
	Ops          int    `json:"ops_checked"`
	Unknown      int    `json:"ops_unknown"`
	GaveUp       int    `json:"ops_gave_up"`
	Faults       string `json:"faults"`
	Kills        int    `json:"kills,omitempty"`
	Verdict      string `json:"verdict"`
	Anomalies    int    `json:"anomalies"`
	AckedChecked int    `json:"acked_writes_checked"`
	AckedLost    int    `json:"acked_writes_lost"`
	Dropped      int64  `json:"packets_dropped,omitempty"`
	// Placement driver figures (TestNetnsPlacementLinearizable): moves its
	// nodes' drivers started (a lower bound: counters read every second),
	// and replicas of a node out for longer than the dead timeout that
	// the driver re-created elsewhere.
	DriverMoves  int `json:"driver_moves,omitempty"`
	Rereplicated int `json:"rereplicated,omitempty"`
}

func report(t *testing.T, r result) {
	t.Helper()
	r.Test, r.Long = t.Name(), longMode()
	line, _ := json.Marshal(r)
	t.Logf("figures: %s", line)
	if *resultsFlag == "" {
		return
	}
	f, err := os.OpenFile(*resultsFlag, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("results file: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\n", line)
}
