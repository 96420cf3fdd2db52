package harness

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// Shape of the ceiling's file.
const (
	ceilingRecordBytes = 16
	// ceilingFileBytes is the size of the ring the records are written
	// into, zero-filled and synced before the clock starts.
	ceilingFileBytes = 64 << 20
)

// groupLog is the simplest group-commit log: writers add records to the
// open batch and wait for it; one goroutine writes each batch with one
// write and one fdatasync, then wakes its writers by closing the batch's
// channel.
type groupLog struct {
	f      *os.File
	size   int64 // of the ring
	off    int64
	notify chan struct{}
	mu     struct {
		sync.Mutex
		open *logBatch
	}
	fsyncs, entries atomic.Uint64
	err             atomic.Pointer[error]
}

type logBatch struct {
	buf  []byte
	n    int
	done chan struct{}
}

func newLogBatch(buf []byte) *logBatch {
	return &logBatch{buf: buf[:0], done: make(chan struct{})}
}

// append adds one record and waits until it is durable.
func (l *groupLog) append(ctx context.Context, rec []byte) error {
	l.mu.Lock()
	b := l.mu.open
	b.buf = append(b.buf, rec...)
	b.n++
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
		if p := l.err.Load(); p != nil {
			return *p
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes batches until stop closes.
func (l *groupLog) run(stop <-chan struct{}) {
	spare := make([]byte, 0, 64<<10)
	for {
		select {
		case <-l.notify:
		case <-stop:
			return
		}
		l.mu.Lock()
		b := l.mu.open
		if b.n == 0 {
			l.mu.Unlock()
			continue
		}
		l.mu.open = newLogBatch(spare)
		l.mu.Unlock()
		if err := l.write(b.buf); err != nil {
			l.err.CompareAndSwap(nil, &err)
		}
		l.fsyncs.Add(1)
		l.entries.Add(uint64(b.n))
		close(b.done)
		spare = b.buf // its writers only wait on done now
	}
}

func (l *groupLog) write(p []byte) error {
	if l.off+int64(len(p)) > l.size {
		l.off = 0
	}
	if _, err := l.f.WriteAt(p, l.off); err != nil {
		return err
	}
	l.off += int64(len(p))
	return syscall.Fdatasync(int(l.f.Fd()))
}

// openRing creates the ring file under dir, zero-filled and synced.
func openRing(dir string, size int64) (*os.File, error) {
	f, err := os.CreateTemp(dir, "ceiling-")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// runCeiling measures the disk's group-commit ceiling (see doc.go).
func runCeiling(ctx context.Context, cfg config, s step) (Result, error) {
	return runLogs(ctx, cfg, s, 1)
}

// runCeiling3 is the ceiling with three logs on the same disk, each with
// a third of the writers: what three replicas' WALs, each group-committing
// on its own, can get from the disk together.
func runCeiling3(ctx context.Context, cfg config, s step) (Result, error) {
	return runLogs(ctx, cfg, s, clusterNodes)
}

// runLogs runs s.clients writers against n group-commit logs, writer i
// appending to log i mod n.
func runLogs(ctx context.Context, cfg config, s step, n int) (Result, error) {
	logs := make([]*groupLog, 0, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
		for _, l := range logs {
			l.f.Close()
		}
	}()
	for range n {
		size := cmp.Or(cfg.ringBytes, ceilingFileBytes)
		f, err := openRing(cfg.dir, size)
		if err != nil {
			return Result{}, fmt.Errorf("ceiling file: %w", err)
		}
		l := &groupLog{f: f, size: size, notify: make(chan struct{}, 1)}
		l.mu.open = newLogBatch(make([]byte, 0, 64<<10))
		logs = append(logs, l)
		wg.Go(func() { l.run(stop) })
	}
	counters := func() counterSnapshot {
		var cs counterSnapshot
		for _, l := range logs {
			cs.fsyncs += l.fsyncs.Load()
			cs.entries += l.entries.Load()
		}
		return cs
	}
	res, _, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		counters: counters, prof: cfg.prof, progress: cfg.progress, label: fmt.Sprintf("%s-%dc", s.workload, s.clients),
		newOp: func(i int) clientOp {
			l := logs[i%n]
			rec := make([]byte, ceilingRecordBytes)
			var seq uint64
			return func(ctx context.Context) error {
				seq++
				binary.LittleEndian.PutUint64(rec, uint64(i))
				binary.LittleEndian.PutUint64(rec[8:], seq)
				return l.append(ctx, rec)
			}
		},
	})
	res.System, res.Workload = "disk", s.workload
	res.Clients, res.Size = s.clients, ceilingRecordBytes
	return res, err
}
