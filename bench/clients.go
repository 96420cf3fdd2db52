package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// counterSnapshot is a reading of the counters a result reports as rates.
type counterSnapshot struct {
	fsyncs, entries, messages uint64
	forwarded                 uint64
	replicas, quiesced        int
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
	label            string
}

// clientTally is what one client saw inside the window.
type clientTally struct {
	lat    latencies
	errors int64
}

// runClients runs spec and returns a Result with the measured fields
// filled in (the caller fills in what identifies the run).
func runClients(ctx context.Context, spec runSpec) (Result, error) {
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
					firstErr.Do(func() { fmt.Fprintf(os.Stderr, "bench: %s: %v\n", spec.label, err) })
					if inWindow {
						t.errors++
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if inWindow {
					t.lat = append(t.lat, t1.Sub(t0))
				}
			}
		})
	}
	res, err := measureWindow(ctx, spec, winStart, winEnd)
	cancel()
	wg.Wait()
	if err != nil {
		return Result{}, err
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
	if res.Ops > 0 {
		res.CPUusPerOp = res.CPUCores * 1e6 / res.OpsPerSec
	}
	return res, nil
}

// measureWindow waits for the window, reading the process's clocks and
// the counters at both ends.
func measureWindow(ctx context.Context, spec runSpec, winStart, winEnd time.Time) (Result, error) {
	if err := sleepUntil(ctx, winStart); err != nil {
		return Result{}, err
	}
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

// rates turns two readings into the window's figures.
func rates(c0, c1 counterSnapshot, u0, u1 usage, rss int64) Result {
	var r Result
	r.Seconds, r.CPUCores = u0.since(u1)
	if r.Seconds > 0 {
		r.FsyncsPerSec = float64(c1.fsyncs-c0.fsyncs) / r.Seconds
		r.MessagesPerSec = float64(c1.messages-c0.messages) / r.Seconds
		r.ForwardedPerSec = float64(c1.forwarded-c0.forwarded) / r.Seconds
	}
	if f := c1.fsyncs - c0.fsyncs; f > 0 {
		r.EntriesPerFsync = float64(c1.entries-c0.entries) / float64(f)
	}
	r.RSSMB = float64(rss) / (1 << 20)
	r.LoadAvg = loadAvg()
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
