package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	scenario := flag.String("scenario", "write", "write, read, idle, ceiling, ceiling3, or all")
	groups := flag.Int("groups", 1024, "shards (Raft groups) the key space is split into")
	clients := flag.Int("clients", 256, "concurrent clients, each with one request outstanding")
	size := flag.Int("size", 16, "value bytes")
	duration := flag.Duration("duration", 15*time.Second, "measured window of each result (after a warm-up of a tenth of it, at most 3s)")
	out := flag.String("out", "", "directory for results.jsonl and results.md (empty: only print the JSON lines)")
	dir := flag.String("dir", "", "parent directory of the data directories (default: the system's temp dir)")
	seed := flag.Uint64("seed", 1, "seed of the clients' random keys")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of each measured window to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile at the end of each measured window to this file")
	workers := flag.Int("workers", 0, "round workers per store (shard.Options.Workers; 0: the store's default)")
	verbose := flag.Bool("v", false, "log the stores' warnings to stderr")
	flag.Parse()

	if *groups < 1 || *clients < 1 || *size < 0 || *duration <= 0 {
		return fmt.Errorf("-groups and -clients must be at least 1, -size at least 0, -duration positive")
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := config{groups: *groups, clients: *clients, size: *size, duration: *duration,
		dir: *dir, seed: *seed, workers: *workers, logger: logger}
	steps, err := plan(*scenario, cfg)
	if err != nil {
		return err
	}
	cfg.prof = newProfiler(*cpuProfile, *memProfile, len(steps) > 1)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := runSteps(ctx, cfg, steps, os.Stdout)
	if *out != "" && len(results) > 0 {
		if werr := writeOut(*out, results); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// runSteps runs each step in order, printing each result as a JSON line
// as soon as it is known. A write result gets its ratio to the last
// ceiling measured in the run.
func runSteps(ctx context.Context, cfg config, steps []step, w io.Writer) ([]Result, error) {
	var results []Result
	var ceiling float64
	run := runners()
	for _, s := range steps {
		fmt.Fprintf(os.Stderr, "bench: %s: running (%v)\n", s, time.Now().UTC().Format(time.TimeOnly))
		res, err := run[s.workload](ctx, cfg, s)
		if err != nil {
			return results, fmt.Errorf("%s: %w", s, err)
		}
		settleDisk()
		switch res.Workload {
		case "ceiling":
			ceiling = res.OpsPerSec
		case "write":
			if ceiling > 0 {
				res.CeilingRatio = res.OpsPerSec / (ceiling / 3)
			}
		}
		results = append(results, res)
		if err := writeJSONLine(w, res); err != nil {
			return results, err
		}
	}
	return results, nil
}

// writeOut writes results.jsonl and results.md into dir.
func writeOut(dir string, results []Result) error {
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
	cmd := "go run ./bench " + strings.Join(os.Args[1:], " ")
	if err := writeMarkdown(&md, cmd, results); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644)
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
