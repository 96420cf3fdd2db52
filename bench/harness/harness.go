package harness

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// Main runs the harness with command-line arguments args (the flags of
// `go run ./bench -h`), printing results to standard output. prog names
// the command in the help text and in the command line results.md
// records.
func Main(prog string, args []string) error {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	scenario := fs.String("scenario", "write", scenarioNames)
	groups := fs.String("groups", "1024", "shards (Raft groups) the key space is split into; a comma-separated list sweeps")
	clients := fs.String("clients", "256", "concurrent clients, each with one request outstanding; a list sweeps")
	size := fs.String("size", "16", "value bytes; a list sweeps")
	logMB := fs.String("logmb", "64", "recovery: megabytes of keys and values to write before the restart; a list sweeps")
	scanLimit := fs.Int("scanlimit", 100, "scan: pairs per scan")
	keys := fs.Int("keys", 0, "read, mixed and scan: keys written before the window (0: 8 per shard for read and mixed, 64 for scan, within [4096, 65536])")
	duration := fs.Duration("duration", 15*time.Second, "measured window of each result (after a warm-up of a tenth of it, at most 3s)")
	setup := fs.Duration("setup", 10*time.Minute, "bound on starting a cluster and waiting until every shard has a leader (and on writing what a scenario writes first)")
	addrs := fs.String("addrs", "", "RESP addresses of a running cluster, comma-separated: run the workload through a Redis client against it instead of the in-process cluster")
	out := fs.String("out", "", "directory for results.jsonl, results.md and the SVG plots (empty: only print the JSON lines)")
	dir := fs.String("dir", "", "parent directory of the data directories (default: the system's temp dir)")
	seed := fs.Uint64("seed", 1, "seed of the clients' random keys")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of each measured window to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of each measured window to this file")
	traceFile := fs.String("trace", "", "write an execution trace of each measured window to this file (go tool trace); keep -duration short, a trace grows by megabytes per second")
	workers := fs.Int("workers", 0, "round workers per store (shard.Options.Workers; 0: the store's default)")
	syncingRounds := fs.Int("syncingrounds", 0, "rounds a worker may have waiting for their WAL sync (shard.Options.MaxSyncingRounds; 0: the store's default, 1: each round waits for its own sync; at most 64)")
	procs := fs.Int("gomaxprocs", 0, "GOMAXPROCS for the run (0: shard.RecommendedGOMAXPROCS of the runtime's default, unless the GOMAXPROCS environment variable is set; -1: the runtime's default)")
	noQuiesce := fs.Bool("noquiesce", false, "keep idle shards ticking and heartbeating (shard.Options.DisableQuiesce): shows heartbeat coalescing with every group active")
	verbose := fs.Bool("v", false, "log the stores' warnings to stderr")
	replot := fs.String("replot", "", "run nothing: read results.jsonl in this directory (as -out wrote it) and write its Markdown table and plots again")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *replot != "" {
		return rewriteOut(*replot)
	}
	setProcs(*procs)

	cfg := config{scanLimit: *scanLimit, keys: *keys, setup: *setup, duration: *duration, dir: *dir, seed: *seed, workers: *workers, syncingRounds: *syncingRounds, noQuiesce: *noQuiesce}
	var err error
	if cfg.groups, err = intList("-groups", *groups, 1); err != nil {
		return err
	}
	if cfg.clients, err = intList("-clients", *clients, 1); err != nil {
		return err
	}
	if cfg.sizes, err = intList("-size", *size, 0); err != nil {
		return err
	}
	if cfg.logMBs, err = intList("-logmb", *logMB, 1); err != nil {
		return err
	}
	if *duration <= 0 || *scanLimit < 1 || *keys < 0 {
		return errors.New("-duration must be positive, -scanlimit at least 1 and -keys at least 0")
	}
	if *addrs != "" {
		cfg.addrs = strings.Split(*addrs, ",")
	}
	cfg.logger = slog.New(slog.DiscardHandler)
	if *verbose {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	steps, err := plan(*scenario, cfg)
	if err != nil {
		return err
	}
	cfg.prof = newProfiler(*cpuProfile, *memProfile, *traceFile, len(steps) > 1)
	// The bar goes where the results go when that is a terminal; plain
	// progress lines go to stderr otherwise.
	if isTerminal(os.Stdout) {
		cfg.progress = newProgress(os.Stdout, true)
	} else {
		cfg.progress = newProgress(os.Stderr, false)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := runSteps(ctx, cfg, steps, os.Stdout)
	if *out != "" && len(results) > 0 {
		cmd := prog + " " + strings.Join(args, " ")
		if werr := writeOut(*out, cmd, results); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// setProcs applies -gomaxprocs: the programs that run stores give the
// runtime extra Ps for goroutines blocked in fdatasync (see
// shard.RecommendedGOMAXPROCS), and the harness measures the store as
// they run it. Every result records the GOMAXPROCS it ran with.
func setProcs(procs int) {
	switch {
	case procs > 0:
		runtime.GOMAXPROCS(procs)
	case procs == 0 && os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(shard.RecommendedGOMAXPROCS(runtime.GOMAXPROCS(0)))
	}
}

// intList parses a comma-separated list of integers of at least least.
func intList(flagName, s string, least int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < least {
			return nil, fmt.Errorf("%s: %q is not a list of integers of at least %d", flagName, s, least)
		}
		out = append(out, n)
	}
	return out, nil
}

// runSteps runs each step in order, printing each result as a JSON line
// as soon as it is known. A write result gets its ratio to a third of the
// disk's ceiling measured earlier in the run, a wal result to the whole
// ceiling: the last ceiling measured with the same number of clients, or
// failing that the last one.
func runSteps(ctx context.Context, cfg config, steps []step, w io.Writer) ([]Result, error) {
	var results []Result
	ceilings := make(map[int]float64) // by clients; key 0: the last one
	ceilingFor := func(clients int) float64 {
		if c, ok := ceilings[clients]; ok {
			return c
		}
		return ceilings[0]
	}
	run := runners()
	if len(cfg.addrs) > 0 {
		run = respRunners()
	}
	for i, s := range steps {
		cfg.progress.clear()
		fmt.Fprintf(os.Stderr, "bench: step %d/%d: %s (%v)\n", i+1, len(steps), s, time.Now().UTC().Format(time.TimeOnly))
		res, err := run[s.workload](ctx, cfg, s)
		if err != nil {
			return results, fmt.Errorf("%s: %w", s, err)
		}
		if len(cfg.addrs) == 0 {
			settleDisk()
		}
		switch res.Workload {
		case "ceiling":
			ceilings[res.Clients], ceilings[0] = res.OpsPerSec, res.OpsPerSec
		case "write":
			if c := ceilingFor(res.Clients); c > 0 {
				res.CeilingRatio = res.OpsPerSec / (c / 3)
			}
		case "wal":
			if c := ceilingFor(res.Clients); c > 0 {
				res.CeilingRatio = res.OpsPerSec / c
			}
		}
		results = append(results, res)
		cfg.progress.clear()
		if err := writeJSONLine(w, res); err != nil {
			return results, err
		}
	}
	return results, nil
}

// writeOut writes results.jsonl, results.md and the plots into dir.
func writeOut(dir, cmd string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var jl strings.Builder
	for _, r := range results {
		if err := writeJSONLine(&jl, r); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(jl.String()), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	if err := writeMarkdown(&md, cmd, results); err != nil {
		return err
	}
	plots := buildPlots(results)
	if len(plots) > 0 {
		fmt.Fprintln(&md)
	}
	for _, p := range plots {
		if err := os.WriteFile(filepath.Join(dir, p.file), []byte(p.svg()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&md, "![%s](%s)\n", p.title, p.file)
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644)
}

// rewriteOut writes results.md and the plots of dir's results.jsonl
// again, keeping the command line recorded in its results.md.
func rewriteOut(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return err
	}
	var results []Result
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		results = append(results, r)
	}
	cmd := "(unknown)"
	if md, err := os.ReadFile(filepath.Join(dir, "results.md")); err == nil {
		first, _, _ := strings.Cut(string(md), "\n")
		cmd = strings.TrimSuffix(strings.TrimPrefix(first, "Command: `"), "`")
	}
	return writeOut(dir, cmd, results)
}

// settleDisk flushes the file system between steps: a step's removed
// data directory (hundreds of MB of WAL segments; ext4 mounted with
// discard trims them at the next journal commit) once stalled the next
// step's fsyncs for seconds inside its window.
func settleDisk() {
	start := time.Now()
	syscall.Sync()
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(os.Stderr, "bench: flushing the disk between steps took %v\n", d.Round(time.Millisecond))
	}
}
