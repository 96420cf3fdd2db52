package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/wal"
)

// runWAL measures the WAL alone (no Raft, no store): s.clients submitters,
// each appending one s.size-byte entry at a time to a group of its own and
// waiting until it is durable. Its plan puts a ceiling step just before
// it, so its ops/s is compared with the disk's group-commit ceiling
// measured a moment earlier (CeilingRatio), and entries_per_fsync shows
// how much the WAL's group commit gathers. Every WAL option is the
// default.
func runWAL(ctx context.Context, cfg config, s step) (Result, error) {
	dir, err := os.MkdirTemp(cfg.dir, "flotilla-bench-wal-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	w, err := wal.Open(wal.Options{Dir: dir, Logger: cfg.logger, SegmentBytes: cfg.walSegmentBytes})
	if err != nil {
		return Result{}, err
	}
	defer w.Close()
	counters := func() counterSnapshot {
		m := w.Metrics()
		return counterSnapshot{fsyncs: m.Fsyncs, entries: m.Entries}
	}
	res, _, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		counters: counters, prof: cfg.prof, progress: cfg.progress, label: s.label(),
		newOp: func(i int) clientOp {
			g := raftpb.GroupID(i + 1)
			b := w.NewBatch()
			data := randomValue(rand.New(rand.NewPCG(cfg.seed, uint64(i))), s.size)
			ents := []raftpb.Entry{{Term: 1, Data: data}}
			var next raftpb.Index = 1
			return func(ctx context.Context) error {
				b.Reset()
				ents[0].Index = next
				b.Append(g, ents)
				if err := w.Commit(ctx, b); err != nil {
					return err
				}
				next++
				return nil
			}
		},
	})
	res.System, res.Workload = "flotilla", "wal"
	res.Groups, res.Clients, res.Size = s.clients, s.clients, s.size
	res.Note = fmt.Sprintf("one group per submitter, %d-byte entries, default WAL options", s.size)
	return res, err
}
