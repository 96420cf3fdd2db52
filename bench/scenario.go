package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// config is what the flags say, shared by every scenario of a run.
type config struct {
	groups, clients, size int
	duration              time.Duration
	dir                   string // parent of the data directories; "" for the system's temp dir
	seed                  uint64
	workers               int // shard.Options.Workers; 0 for the store's default
	logger                *slog.Logger
	prof                  *profiler
}

// warmup is the unmeasured time before each window.
func (c config) warmup() time.Duration { return min(c.duration/10, 3*time.Second) }

// setupTimeout bounds starting a cluster and waiting for its leaders.
const setupTimeout = 5 * time.Minute

// step is one scenario run with its own shape (a scenario such as "all"
// expands into several).
type step struct {
	workload              string
	groups, clients, size int
}

func (s step) String() string {
	return fmt.Sprintf("%s groups=%d clients=%d size=%d", s.workload, s.groups, s.clients, s.size)
}

// runFunc runs one step.
type runFunc func(ctx context.Context, cfg config, s step) (Result, error)

// runners maps each workload to its implementation.
func runners() map[string]runFunc {
	return map[string]runFunc{
		"write":    runWrite,
		"read":     runRead,
		"idle":     runIdle,
		"ceiling":  runCeiling,
		"ceiling3": runCeiling3,
	}
}

// allIdleGroups is the idle shard count of -scenario all: 30,000
// replicas in the process.
const allIdleGroups = 10000

// plan expands a -scenario name into steps.
func plan(scenario string, cfg config) ([]step, error) {
	if scenario == "all" {
		c := cfg.clients
		// The ceiling first, and idle before the write runs, so that its
		// memory baseline is not inflated by what they leave behind.
		return []step{
			{"ceiling", 0, c, 16},
			{"ceiling3", 0, c, 16},
			{"idle", allIdleGroups, 0, 0},
			{"write", 64, c, 16},
			{"write", 64, c, 1024},
			{"write", 1024, c, 16},
			{"write", 1024, c, 1024},
			{"read", 1024, c, 16},
		}, nil
	}
	if _, ok := runners()[scenario]; !ok {
		return nil, fmt.Errorf("unknown scenario %q (want write, read, idle, ceiling, ceiling3 or all)", scenario)
	}
	s := step{scenario, cfg.groups, cfg.clients, cfg.size}
	switch scenario {
	case "idle":
		s.clients, s.size = 0, 0
	case "ceiling", "ceiling3":
		s.groups, s.size = 0, 16
	}
	return []step{s}, nil
}
