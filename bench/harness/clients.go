package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// counterSnapshot is a reading of the counters a result reports as rates.
type counterSnapshot struct {
	fsyncs, entries, messages uint64
	forwarded, hbFrames       uint64
	readHBFrames              uint64
	rounds, roundGroups       uint64
	walBatches                uint64
	replicas, quiesced        int
	// remote: the counters are a running cluster's (-addrs), with its
	// local processes' CPU time and resident set.
	remote    bool
	remoteCPU time.Duration
	remoteRSS int64
}

// clientOp performs one request for one client. Each client has its own
// (with its own random source and buffers), so it need not be safe for
// concurrent use.
type clientOp func(ctx context.Context) error

// runSpec describes one closed-loop run: clients goroutines, each with
// one request outstanding, for warmup and then the measured window.
type runSpec struct {
	clients          int
	warmup, duration time.Duration
	newOp            func(client int) clientOp
	counters         func() counterSnapshot
	prof             *profiler
	progress         *progress
	label            string
	// during, if set, runs in its own goroutine once the window starts
	// (the failover scenario stops a node from it); the run waits for it.
	during func(ctx context.Context)
	// errTimes records each client's first and last failed request.
	errTimes bool
}

// clientTally is what one client saw. ops is read by the progress bar
// while the client runs; the rest only after it stops.
type clientTally struct {
	ops      atomic.Int64
	lat      latencies
	errors   int64
	errTimes []time.Time // with runSpec.errTimes
	_        [64]byte    // keep clients' counters off each other's cache lines
}

// runClients runs spec and returns a Result with the measured fields
// filled in (the caller fills in what identifies the run), and every
// client's tally.
func runClients(ctx context.Context, spec runSpec) (Result, []clientTally, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	winStart := start.Add(spec.warmup)
	winEnd := winStart.Add(spec.duration)
	tallies := make([]clientTally, spec.clients)
	var firstErr sync.Once
	var wg sync.WaitGroup
	for i := range spec.clients {
		op := spec.newOp(i)
		t := &tallies[i]
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := op(ctx)
				t1 := time.Now()
				if err != nil && ctx.Err() != nil {
					return
				}
				inWindow := !t1.Before(winStart) && !t1.After(winEnd)
				if err != nil {
					if !spec.errTimes {
						firstErr.Do(func() { fmt.Fprintf(os.Stderr, "bench: %s: %v\n", spec.label, err) })
					}
					if spec.errTimes {
						t.errTimes = append(t.errTimes, t1)
					}
					if inWindow {
						t.errors++
					}
					// A client that failed pauses briefly, as a real one
					// would, instead of spinning on a shard without leader.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if inWindow {
					t.lat = append(t.lat, t1.Sub(t0))
					t.ops.Add(1)
				}
			}
		})
	}
	ops := func() int64 {
		var n int64
		for i := range tallies {
			n += tallies[i].ops.Load()
		}
		return n
	}
	var dwg sync.WaitGroup
	if spec.during != nil {
		dwg.Go(func() {
			if sleepUntil(ctx, winStart) == nil {
				spec.during(ctx)
			}
		})
	}
	res, err := measureWindow(ctx, spec, winStart, winEnd, ops)
	dwg.Wait()
	cancel()
	wg.Wait()
	if err != nil {
		return Result{}, nil, err
	}
	var all latencies
	for i := range tallies {
		all = append(all, tallies[i].lat...)
		res.Errors += tallies[i].errors
	}
	res.Ops = int64(len(all))
	// Requests are counted by when they finish inside the nominal window;
	// the clocks' readings may land a little after its ends.
	res.Seconds = spec.duration.Seconds()
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.P50us, res.P99us, res.P999us = all.percentiles()
	res.LatencyUs = all.quantiles()
	if res.Ops > 0 {
		res.CPUusPerOp = res.CPUCores * 1e6 / res.OpsPerSec
		res.AllocsPerOp = float64(res.allocs) / float64(res.Ops)
	}
	return res, tallies, nil
}

// measureWindow waits for the window, reading the process's clocks and
// the counters at both ends, and shows progress during it.
func measureWindow(ctx context.Context, spec runSpec, winStart, winEnd time.Time, ops func() int64) (Result, error) {
	if err := sleepUntil(ctx, winStart); err != nil {
		return Result{}, err
	}
	stop := spec.progress.phase(spec.label, winEnd.Sub(winStart), ops)
	defer stop()
	u0, c0 := readUsage(), spec.counters()
	if err := spec.prof.start(spec.label); err != nil {
		return Result{}, err
	}
	if err := sleepUntil(ctx, winEnd); err != nil {
		spec.prof.stop(spec.label)
		return Result{}, err
	}
	u1 := readUsage()
	c1 := spec.counters()
	rss := rssBytes()
	if err := spec.prof.stop(spec.label); err != nil {
		return Result{}, err
	}
	return rates(c0, c1, u0, u1, rss), nil
}

// Heartbeat ticks: the stores run with the default tick.
const (
	ticksPerSec = float64(time.Second / shard.DefaultTickInterval)
	// peerPairs is the directed node pairs of the cluster (a frame goes
	// one way).
	peerPairs = clusterNodes * (clusterNodes - 1)
)

// rates turns two readings into the window's figures.
func rates(c0, c1 counterSnapshot, u0, u1 usage, rss int64) Result {
	var r Result
	r.Seconds, r.CPUCores = u0.since(u1)
	r.allocs = u1.allocs - u0.allocs
	if r.Seconds > 0 {
		r.FsyncsPerSec = float64(c1.fsyncs-c0.fsyncs) / r.Seconds
		r.MessagesPerSec = float64(c1.messages-c0.messages) / r.Seconds
		r.ForwardedPerSec = float64(c1.forwarded-c0.forwarded) / r.Seconds
		r.HeartbeatFramesPerSec = float64(c1.hbFrames-c0.hbFrames) / r.Seconds
		r.HeartbeatFramesPerPairTick = r.HeartbeatFramesPerSec / peerPairs / ticksPerSec
		r.ReadHeartbeatFramesPerSec = float64(c1.readHBFrames-c0.readHBFrames) / r.Seconds
	}
	if f := c1.fsyncs - c0.fsyncs; f > 0 {
		r.EntriesPerFsync = float64(c1.entries-c0.entries) / float64(f)
	}
	if n := c1.rounds - c0.rounds; n > 0 && r.Seconds > 0 {
		r.RoundsPerSec = float64(n) / r.Seconds
		r.GroupsPerRound = float64(c1.roundGroups-c0.roundGroups) / float64(n)
		r.WALBatchesPerSec = float64(c1.walBatches-c0.walBatches) / r.Seconds
	}
	r.RSSMB = float64(rss) / (1 << 20)
	if c1.remote {
		r.CPUCores = 0
		if r.Seconds > 0 {
			r.CPUCores = (c1.remoteCPU - c0.remoteCPU).Seconds() / r.Seconds
		}
		r.RSSMB = float64(c1.remoteRSS) / (1 << 20)
	}
	r.LoadAvg = loadAvg()
	r.GOMAXPROCS = runtime.GOMAXPROCS(0)
	r.Replicas, r.Quiesced = c1.replicas, c1.quiesced
	return r
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
