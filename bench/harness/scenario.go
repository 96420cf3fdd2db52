package harness

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// config is what the flags say, shared by every scenario of a run.
type config struct {
	groups, clients, sizes []int // sweeps: each scenario takes what it uses
	logMBs                 []int // recovery: WAL megabytes to write
	scanLimit              int
	keys                   int // keys written before read, mixed and scan; 0: by shard count
	duration               time.Duration
	setup                  time.Duration // 0: setupTimeout's default
	dir                    string        // parent of the data directories; "" for the system's temp dir
	seed                   uint64
	workers                int  // shard.Options.Workers; 0 for the store's default
	syncingRounds          int  // shard.Options.MaxSyncingRounds; 0 for the store's default
	noQuiesce              bool // shard.Options.DisableQuiesce
	addrs                  []string
	// walSegmentBytes and ringBytes shrink the WAL's preallocated
	// segments and the ceiling's ring for the smoke test (0: defaults),
	// which otherwise spends its time writing zeros.
	walSegmentBytes, ringBytes int64
	logger                     *slog.Logger
	prof                       *profiler
	progress                   *progress
}

// preloadKeys returns how many keys to write before a read, mixed or
// scan window: cfg.keys if set, else byShards.
func (c config) preloadKeys(byShards int) int {
	if c.keys > 0 {
		return c.keys
	}
	return byShards
}

// warmup is the unmeasured time before each window.
func (c config) warmup() time.Duration { return min(c.duration/10, 3*time.Second) }

// setupTimeout bounds starting a cluster and waiting for its leaders,
// and writing what a scenario writes before its window.
func (c config) setupTimeout() time.Duration { return cmp.Or(c.setup, 10*time.Minute) }

// step is one scenario run with its own shape (a scenario name expands
// into one step per point of its sweep).
type step struct {
	workload              string
	groups, clients, size int
	logMB                 int // recovery only
}

func (s step) String() string {
	if s.workload == "recovery" {
		return fmt.Sprintf("%s groups=%d size=%d log=%dMB", s.workload, s.groups, s.size, s.logMB)
	}
	return fmt.Sprintf("%s groups=%d clients=%d size=%d", s.workload, s.groups, s.clients, s.size)
}

// label names the step in profiles and progress lines.
func (s step) label() string {
	return fmt.Sprintf("%s-%dg-%dc-%db", s.workload, s.groups, s.clients, s.size)
}

// runFunc runs one step.
type runFunc func(ctx context.Context, cfg config, s step) (Result, error)

// runners maps each workload to its implementation.
func runners() map[string]runFunc {
	return map[string]runFunc{
		"write":     runWrite,
		"read":      runRead,
		"mixed90":   runMixed,
		"mixed50":   runMixed,
		"scan":      runScan,
		"idle":      runIdle,
		"ceiling":   runCeiling,
		"ceiling3":  runCeiling3,
		"wal":       runWAL,
		"failover":  runFailover,
		"recovery":  runRecovery,
		"rebalance": runRebalance,
	}
}

// readFraction is the share of reads of a mixed workload.
func readFraction(workload string) float64 {
	if workload == "mixed50" {
		return 0.5
	}
	return 0.9
}

// scenarioNames lists what -scenario accepts, for messages.
const scenarioNames = "write, read, mixed (mixed90 and mixed50), scan, idle, ceiling, ceiling3, wal, failover, recovery, rebalance, or all; several separated by commas"

// allIdleGroups is the idle shard count of -scenario all: 30,000
// replicas in the process.
const allIdleGroups = 10000

// planAll is -scenario all: one point of each scenario, so that ratios
// between them come from one machine at one time. The ceiling first, and
// idle before the write runs, so that its memory baseline is not inflated
// by what they leave behind.
func planAll(cfg config) []step {
	c := cfg.clients[0]
	return []step{
		{workload: "ceiling", clients: c, size: ceilingRecordBytes},
		{workload: "ceiling3", clients: c, size: ceilingRecordBytes},
		{workload: "idle", groups: allIdleGroups},
		{workload: "write", groups: 64, clients: c, size: 16},
		{workload: "write", groups: 64, clients: c, size: 1024},
		{workload: "write", groups: 1024, clients: c, size: 16},
		{workload: "write", groups: 1024, clients: c, size: 1024},
		{workload: "read", groups: 1024, clients: c, size: 16},
		{workload: "mixed90", groups: 1024, clients: c, size: 16},
		{workload: "mixed50", groups: 1024, clients: c, size: 16},
		{workload: "scan", groups: 1024, clients: c, size: 16},
		{workload: "wal", groups: c, clients: c, size: 16},
		{workload: "failover", groups: 1024, clients: c, size: 16},
		{workload: "recovery", groups: 1024, size: 1024, logMB: 256},
		{workload: "rebalance", groups: 1024, clients: c, size: 16},
	}
}

// plan expands a -scenario list into steps: each scenario runs the cross
// product of the sweeps it uses.
func plan(scenarios string, cfg config) ([]step, error) {
	var steps []step
	for _, sc := range strings.Split(scenarios, ",") {
		sc = strings.TrimSpace(sc)
		switch {
		case sc == "all":
			steps = append(steps, planAll(cfg)...)
		case sc == "mixed":
			steps = append(steps, sweep(cfg, "mixed90", "mixed50")...)
		case runners()[sc] != nil:
			steps = append(steps, sweep(cfg, sc)...)
		default:
			return nil, fmt.Errorf("unknown scenario %q (want %s)", sc, scenarioNames)
		}
	}
	if len(cfg.addrs) > 0 {
		for _, s := range steps {
			if !slices.Contains(respWorkloads(), s.workload) {
				return nil, fmt.Errorf("scenario %s needs the in-process cluster; with -addrs: %s", s.workload, strings.Join(respWorkloads(), ", "))
			}
		}
	}
	return steps, nil
}

// sweep returns the steps of the given workloads over cfg's lists; the
// workloads alternate at each point, so that two of them compare on
// neighbouring windows.
func sweep(cfg config, workloads ...string) []step {
	var out []step
	add := func(s step) {
		for _, w := range workloads {
			s.workload = w
			out = append(out, s)
		}
	}
	switch workloads[0] {
	case "idle":
		for _, g := range cfg.groups {
			add(step{groups: g})
		}
	case "ceiling", "ceiling3":
		for _, c := range cfg.clients {
			add(step{clients: c, size: ceilingRecordBytes})
		}
	case "wal":
		// Each point measures the ceiling just before the WAL, so that the
		// ratio compares neighbouring windows.
		for _, c := range cfg.clients {
			for _, z := range cfg.sizes {
				out = append(out, step{workload: "ceiling", clients: c, size: ceilingRecordBytes},
					step{workload: "wal", groups: c, clients: c, size: z})
			}
		}
	case "recovery":
		for _, g := range cfg.groups {
			for _, mb := range cfg.logMBs {
				add(step{groups: g, size: max(cfg.sizes[0], 1), logMB: mb})
			}
		}
	default:
		for _, g := range cfg.groups {
			for _, c := range cfg.clients {
				for _, z := range cfg.sizes {
					add(step{groups: g, clients: c, size: z})
				}
			}
		}
	}
	return out
}
