package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// clientOp performs one request for one client; each client has its own.
type clientOp func(ctx context.Context) error

// runSpec is one closed-loop run: clients goroutines, each with one
// request outstanding, for warmup and then the measured window.
type runSpec struct {
	clients          int
	warmup, duration time.Duration
	newOp            func(client int) clientOp
	c                *cluster
	cpuProfile       string
	label            string
}

type clientTally struct {
	lat    latencies
	errors int64
}

// runClients runs spec, counting the requests that finish inside the
// window, as the main harness does.
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
					firstErr.Do(func() { fmt.Fprintf(os.Stderr, "dragonboat-bench: %s: %v\n", spec.label, err) })
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
	res.Seconds = spec.duration.Seconds()
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.P50us, res.P99us, res.P999us = all.percentiles()
	if res.Ops > 0 {
		res.CPUusPerOp = res.CPUCores * 1e6 / res.OpsPerSec
	}
	return res, nil
}

// measureWindow waits for the window and reads the process's clocks,
// its fsyncs (with perf, when it can) and the entries applied at both
// ends.
func measureWindow(ctx context.Context, spec runSpec, winStart, winEnd time.Time) (Result, error) {
	// perf takes a moment to attach: start it just before the window.
	if err := sleepUntil(ctx, winStart.Add(-300*time.Millisecond)); err != nil {
		return Result{}, err
	}
	fc := startFsyncCount()
	f0, a0 := time.Now(), spec.c.applied.Load()
	if err := sleepUntil(ctx, winStart); err != nil {
		fc.stop()
		return Result{}, err
	}
	u0 := readUsage()
	var prof *os.File
	if spec.cpuProfile != "" {
		f, err := os.Create(spec.cpuProfile)
		if err != nil {
			fc.stop()
			return Result{}, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fc.stop()
			return Result{}, err
		}
		prof = f
	}
	err := sleepUntil(ctx, winEnd)
	u1 := readUsage()
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	a1, f1 := spec.c.applied.Load(), time.Now()
	syncs, grew := fc.stop()
	if err != nil {
		return Result{}, err
	}
	var r Result
	r.Seconds, r.CPUCores = u0.since(u1)
	if syncs > 0 {
		r.FsyncsPerSec = float64(syncs) / f1.Sub(f0).Seconds()
		r.EntriesPerFsync = float64(a1-a0) / float64(syncs)
	}
	if grew {
		fmt.Fprintf(os.Stderr, "dragonboat-bench: %s: the process gained threads inside the window; its fsync count may be low\n", spec.label)
	}
	r.RSSMB = float64(rssBytes()) / (1 << 20)
	r.LoadAvg = loadAvg()
	r.Replicas = int(spec.c.replicas.Load())
	r.SetupSeconds = spec.c.setup.Seconds()
	return r, nil
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
