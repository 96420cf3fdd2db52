package rafttest

import (
	"flag"
	"fmt"
	"runtime/debug"
	"testing"
)

// Flags for long runs and replays. They live in the test file, so the
// package keeps no mutable state.
var (
	flagSeed   = flag.Uint64("seed", 0, "replay only this seed (0: run -seeds seeds)")
	flagSeeds  = flag.Int("seeds", 0, "number of seeds to run (default 2000, 200 with -short)")
	flagFirst  = flag.Uint64("first", 1, "first seed of the range")
	flagSteps  = flag.Int("steps", 0, "chaos steps per seed (default rafttest.DefaultSteps)")
	flagEvents = flag.Int("events", 0, "events shown for a failing seed (default 60)")
	flagDump   = flag.Bool("dump", false, "with -seed, print the trace of the run even if it passes")
	flagLease  = flag.Bool("lease", false, "force lease reads in every seed")
)

// slowLiveness is the recovery time, in election timeouts, past which a
// passing seed is still logged: it shows how close runs come to the bound.
const slowLiveness = 10

// replayCommand is the one-line command that reruns seed exactly.
func replayCommand(seed uint64) string {
	cmd := fmt.Sprintf("go test ./raftgroup/rafttest -run TestSimulate -seed=%d", seed)
	if *flagSteps > 0 {
		cmd += fmt.Sprintf(" -steps=%d", *flagSteps)
	}
	if *flagLease {
		cmd += " -lease"
	}
	return cmd + " -v"
}

func TestSimulate(t *testing.T) {
	seeds := []uint64{}
	if *flagSeed != 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		n := *flagSeeds
		if n == 0 {
			n = 2000
			if testing.Short() {
				n = 200
			}
		}
		for i := range n {
			seeds = append(seeds, *flagFirst+uint64(i))
		}
	}
	var total Stats
	failures := 0
	for _, seed := range seeds {
		st, err := runSeed(seed)
		total = addStats(total, st)
		if err == nil {
			if st.LivenessTimeouts > slowLiveness {
				t.Logf("seed %d: liveness took %.1f election timeouts; %v", seed, st.LivenessTimeouts, ConfigForSeed(seed, *flagSteps))
			}
			if len(seeds) == 1 {
				t.Logf("seed %d: %+v", seed, st)
			}
			continue
		}
		failures++
		t.Errorf("seed %d failed; replay with:\n  %s\n%v", seed, replayCommand(seed), err)
		if failures >= 3 {
			t.Fatalf("stopping after %d failing seeds", failures)
		}
	}
	t.Logf("%d seeds: %+v", len(seeds), total)
}

// runSeed runs one seed, turning a panic in the core into a failure with
// the seed.
func runSeed(seed uint64) (st Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	cfg := ConfigForSeed(seed, *flagSteps)
	if *flagLease {
		cfg.ForceLeaseReads()
	}
	if *flagEvents > 0 {
		cfg.TraceEvents = *flagEvents
	}
	if !*flagDump {
		return Run(cfg)
	}
	st, lines, err := RunTrace(cfg)
	for _, l := range lines {
		fmt.Println(l)
	}
	return st, err
}

func addStats(a, b Stats) Stats {
	a.Steps += b.Steps
	a.Ticks += b.Ticks
	a.Committed += b.Committed
	a.Elections += b.Elections
	a.Sent += b.Sent
	a.Dropped += b.Dropped
	a.Delivered += b.Delivered
	a.Crashes += b.Crashes
	a.Snapshots += b.Snapshots
	a.Reads += b.Reads
	a.LivenessTimeouts = max(a.LivenessTimeouts, b.LivenessTimeouts)
	return a
}

// TestDeterministic runs seeds twice and requires identical outcomes: the
// property that makes a failing seed replayable.
func TestDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		a, errA := runSeed(seed)
		b, errB := runSeed(seed)
		if a != b || (errA == nil) != (errB == nil) {
			t.Fatalf("seed %d ran differently twice: %+v (%v) vs %+v (%v)", seed, a, errA, b, errB)
		}
	}
}
