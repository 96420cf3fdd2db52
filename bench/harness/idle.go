package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// quiesceTimeout bounds the wait for every replica to quiesce.
const quiesceTimeout = 3 * time.Minute

// runIdle: s.groups shards with no traffic. Once every replica is
// quiesced, it measures the process's CPU over the window and its
// resident set at the end, against a baseline read before the stores
// opened.
func runIdle(ctx context.Context, cfg config, s step) (Result, error) {
	base, baseHeap := settledRSS(), liveHeap()
	t0 := time.Now()
	c, _, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	qctx, cancel := context.WithTimeout(ctx, quiesceTimeout)
	t1 := time.Now()
	var cs counterSnapshot
	if cfg.noQuiesce {
		// Nothing will quiesce: let the elections' traffic settle instead.
		cs.quiesced = -1
		_ = sleepUntil(qctx, t1.Add(2*electionTimeout))
	} else {
		cs = c.waitQuiesced(qctx)
	}
	cancel()
	t2 := time.Now()
	if cs.quiesced >= 0 && cs.quiesced < cs.replicas {
		fmt.Fprintf(os.Stderr, "bench: idle: only %d of %d replicas quiesced after %v\n", cs.quiesced, cs.replicas, quiesceTimeout)
	}
	settledRSS()
	label := fmt.Sprintf("idle-%dg", s.groups)
	start := time.Now()
	res, err := measureWindow(ctx, runSpec{counters: c.counters, prof: cfg.prof, progress: cfg.progress, label: label},
		start, start.Add(cfg.duration), nil)
	if err != nil {
		return Result{}, err
	}
	res.System, res.Workload, res.Groups = "flotilla", "idle", s.groups
	res.Note = fmt.Sprintf("setup: open and every shard led and read in %.1f s, all quiesced %.1f s later",
		t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds())
	if cfg.noQuiesce {
		res.Note = fmt.Sprintf("quiescence off: every group ticks and heartbeats; setup: open and every shard led and read in %.1f s",
			t1.Sub(t0).Seconds())
	}
	if res.Replicas > 0 {
		res.RSSPerReplicaBytes = (res.RSSMB*(1<<20) - float64(base)) / float64(res.Replicas)
		res.HeapPerReplicaBytes = float64(liveHeap()-baseHeap) / float64(res.Replicas)
	}
	return res, nil
}

// liveHeap collects garbage and returns the bytes of live heap objects.
// NB: read after the window's RSS, so the collection does not change it.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// settledRSS collects garbage, returns freed memory to the OS, and
// reads the resident set, so that what remains is live memory.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}
