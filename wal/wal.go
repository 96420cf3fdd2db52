package wal

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// WAL is one node's write-ahead log, shared by all its Raft groups. It is
// safe for concurrent use: any number of goroutines may submit batches and
// read at once.
type WAL struct {
	opts Options
	fs   vfs.FS
	lock io.Closer

	// q is the submission queue (queue.go).
	q submitQueue
	// failure, once set, fail-stops the WAL: every later submit gets it.
	failure    atomic.Pointer[error]
	closed     atomic.Bool
	wake       chan struct{}
	closing    chan struct{}
	writerDone chan struct{}

	idx struct {
		sync.RWMutex
		groups    map[raftpb.GroupID]*group
		segs      map[uint32]*segment
		cache     tailCache
		liveBytes int64
	}

	wr   writerState
	pipe pipeline
	prep preparer
	m    metrics
}

// syncGroup is one write+sync: every batch in it learns its fate when done
// is closed (one close wakes them all), then reads err. Submitters push
// their batches onto head (queue.go); a final group (final set) takes no
// batches and is never done.
type syncGroup struct {
	head atomic.Pointer[Batch]
	// count is how many batches were pushed onto head.
	count atomic.Int32
	done  chan struct{}
	err   error
	final error
}

func newSyncGroup() *syncGroup { return &syncGroup{done: make(chan struct{})} }

// Pending is the handle of a submitted batch.
type Pending struct {
	b  *Batch
	sg *syncGroup
	// err is set when the batch was refused at submission.
	err error
}

// Done is closed when the batch is durable or has failed.
func (p Pending) Done() <-chan struct{} {
	if p.sg == nil {
		return closedChan()
	}
	return p.sg.done
}

// Err returns the batch's outcome; call it only after Done is closed.
func (p Pending) Err() error {
	if p.err != nil {
		return p.err
	}
	if p.b.result != nil {
		return p.b.result
	}
	return p.sg.err
}

// Wait blocks until the batch is durable (nil) or failed, or until ctx is
// done. After a ctx error the batch may still become durable, and it still
// belongs to the WAL until Done is closed.
func (p Pending) Wait(ctx context.Context) error {
	if ctx.Done() == nil {
		<-p.Done()
		return p.Err()
	}
	select {
	case <-p.Done():
		return p.Err()
	case <-ctx.Done():
		return fmt.Errorf("wal: waiting for durability: %w", ctx.Err())
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Open opens (creating if needed) the WAL in opts.Dir and recovers its
// index by scanning every segment. It fails with a *CorruptionError if a
// record other than a torn final write fails its checksum.
func Open(opts Options) (*WAL, error) {
	w := &WAL{opts: opts}
	w.opts.EnsureDefaults()
	if err := w.opts.Validate(); err != nil {
		return nil, err
	}
	w.fs = w.opts.FS
	if err := w.makeDir(); err != nil {
		return nil, err
	}
	lock, err := w.fs.Lock(w.fs.PathJoin(w.opts.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("wal: locking %s: %w", w.opts.Dir, err)
	}
	w.lock = lock
	w.idx.groups = make(map[raftpb.GroupID]*group)
	w.idx.segs = make(map[uint32]*segment)
	w.idx.cache.init(w.opts.CacheBytes)
	start := time.Now()
	if err := w.recover(); err != nil {
		w.closeFiles()
		return nil, err
	}
	w.m.recoveryNanos.Store(int64(time.Since(start)))
	w.opts.Logger.Info("wal: opened", "dir", w.opts.Dir, "groups", len(w.idx.groups),
		"segments", len(w.wr.segNums), "recovery", time.Since(start))
	w.q.cur.Store(newSyncGroup())
	w.wake = make(chan struct{}, 1)
	w.closing = make(chan struct{})
	w.writerDone = make(chan struct{})
	w.prep.start(w)
	w.pipe.init()
	go w.syncLoop()
	go w.completeLoop()
	go w.writeLoop()
	return w, nil
}

// Close writes what is pending, stops the writer and closes every file.
// Batches submitted after Close starts fail with ErrClosed.
func (w *WAL) Close() error {
	if !w.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(w.closing)
	<-w.writerDone
	w.prep.stop()
	return w.closeFiles()
}

// closeFiles closes the active segment, every read handle and the lock.
func (w *WAL) closeFiles() error {
	var first error
	if w.wr.file != nil {
		first = w.wr.file.Close()
		w.wr.file = nil
	}
	w.idx.Lock()
	for num, s := range w.idx.segs {
		delete(w.idx.segs, num)
		s.release()
	}
	w.idx.Unlock()
	if w.lock != nil {
		if err := w.lock.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Submit hands b to the writer and returns at once. b must not be used
// until the returned Pending is done. Submit never blocks on I/O.
func (w *WAL) Submit(b *Batch) Pending {
	if b.err != nil {
		return Pending{b: b, err: b.err}
	}
	b.result = nil
	if err := w.Err(); err != nil {
		return Pending{b: b, err: err}
	}
	if w.closed.Load() {
		return Pending{b: b, err: ErrClosed}
	}
	sg, wake, err := w.q.push(b)
	if err != nil {
		return Pending{b: b, err: err}
	}
	if wake {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return Pending{b: b, sg: sg}
}

// Commit submits b and waits until it is durable. It returns nil once
// every record of b is on stable storage and visible to reads.
func (w *WAL) Commit(ctx context.Context, b *Batch) error {
	return w.Submit(b).Wait(ctx)
}

// Err returns the error that fail-stopped the WAL, or nil.
func (w *WAL) Err() error {
	if p := w.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// makeDir creates the WAL's directory (and any missing ancestors) and
// syncs the parent of each directory it created, so the path itself
// survives a crash.
func (w *WAL) makeDir() error {
	var created []string
	for d := w.opts.Dir; ; d = w.fs.PathDir(d) {
		if _, err := w.fs.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if w.fs.PathDir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := w.fs.MkdirAll(w.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("wal: creating %s: %w", w.opts.Dir, err)
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := syncDirPath(w.fs, w.fs.PathDir(created[i])); err != nil {
			return fmt.Errorf("wal: syncing parent of %s: %w", created[i], err)
		}
	}
	return nil
}

func syncDirPath(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
