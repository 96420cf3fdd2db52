package harness

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/wal"
)

// recoveryWriters is how many clients write the log before the restart.
const recoveryWriters = 256

// runRecovery: writes s.size-byte values to random keys of s.groups
// shards until s.logMB megabytes of keys and values have been written
// (each node's WAL holds them all, plus framing: see log_mb and the
// note), closes the three
// nodes, and opens them again. It reports how long the slowest
// shard.Open took (reading the WAL, rebuilding its index, opening the
// state machine and replaying each shard from its applied index) and how
// long until every shard had a leader, both from the start of the opens,
// against the WAL's size. ops, ops_per_sec and the latencies are those of
// the writes before the restart; cpu_cores and rss_mb are the restart's.
func runRecovery(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	walDir := filepath.Join(c.dir, "node1", "wal")
	var written atomic.Int64
	stop := cfg.progress.phase(s.label()+" (writing the log)", 0, nil)
	res, err := fillLog(ctx, cfg, s, rt, &written, int64(s.logMB)<<20)
	stop()
	if err != nil {
		return Result{}, err
	}
	for i := range clusterNodes {
		if err := c.closeNode(i); err != nil {
			return Result{}, fmt.Errorf("closing node %d: %w", i+1, err)
		}
	}
	logBytes := dirBytes(walDir)
	walOpen, walRecovered, err := timeWALOpen(walDir, cfg)
	if err != nil {
		return Result{}, err
	}
	u0 := readUsage()
	start := time.Now()
	if err := c.openAll(ctx); err != nil {
		return Result{}, fmt.Errorf("reopening: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.setupTimeout())
	defer cancel()
	if err := c.learnLeaders(lctx, newRouter(c)); err != nil {
		return Result{}, err
	}
	led := time.Since(start)
	u1 := readUsage()
	_, res.CPUCores = u0.since(u1)
	res.RSSMB = float64(rssBytes()) / (1 << 20)
	res.LoadAvg = loadAvg()
	res.System, res.Workload = "flotilla", "recovery"
	res.Groups, res.Clients, res.Size = s.groups, recoveryWriters, s.size
	res.LogMB = float64(written.Load()) / (1 << 20)
	res.OpenSeconds = slices.Max(c.openTimes).Seconds()
	res.LeadersSeconds = led.Seconds()
	res.WALOpenSeconds = walOpen.Seconds()
	res.WALRecoveredMB = float64(walRecovered) / (1 << 20)
	res.Note = fmt.Sprintf("log_mb counts keys and values written; node 1's WAL directory holds %.0f MB of files (segments are preallocated); the three nodes open in parallel: %v",
		float64(logBytes)/(1<<20), roundAll(c.openTimes))
	return res, nil
}

// timeWALOpen opens node 1's WAL alone (before the store reopens it)
// and returns how long wal.Open took and how many bytes it scanned: the
// WAL's share of the store's open.
func timeWALOpen(dir string, cfg config) (time.Duration, uint64, error) {
	start := time.Now()
	w, err := wal.Open(wal.Options{Dir: dir, Logger: cfg.logger, SegmentBytes: cfg.walSegmentBytes})
	if err != nil {
		return 0, 0, fmt.Errorf("opening the WAL alone: %w", err)
	}
	d := time.Since(start)
	m := w.Metrics()
	return d, m.RecoveredBytes, w.Close()
}

// fillLog runs recoveryWriters clients writing random keys until they
// have written target bytes of keys and values, counted in written, and
// returns their figures.
func fillLog(ctx context.Context, cfg config, s step, rt *router, written *atomic.Int64, target int64) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.setupTimeout())
	defer cancel()
	tallies := make([]latencies, recoveryWriters)
	errs := make([]error, recoveryWriters)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range recoveryWriters {
		op := writeOp(rt, cfg.seed, i, s.size, nil)
		wg.Go(func() {
			for written.Load() < target {
				t0 := time.Now()
				if err := op(ctx); err != nil {
					errs[i] = err
					return
				}
				tallies[i] = append(tallies[i], time.Since(t0))
				written.Add(int64(keyBytes + s.size))
			}
		})
	}
	wg.Wait()
	var res Result
	res.Seconds = time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("writing the log: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return res, fmt.Errorf("writing the log: %w", err)
		}
	}
	var all latencies
	for _, l := range tallies {
		all = append(all, l...)
	}
	res.Ops = int64(len(all))
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.P50us, res.P99us, res.P999us = all.percentiles()
	res.LatencyUs = all.quantiles()
	return res, nil
}

// dirBytes returns the total size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
