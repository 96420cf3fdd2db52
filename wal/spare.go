package wal

import (
	"errors"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// preparer zero-fills the next segment ahead of need, in its own
// goroutine, so that rotation is a rename and each fdatasync into the
// segment changes no file size or extent (the cheapest mode measured on
// ext4; fallocate was slower).
//
// The zeros are paced by the log: once the writer has written into the
// active segment, the preparer may run spareLeadBytes plus
// sparePaceFactor times the log bytes written since it started ahead,
// in spareStepBytes steps, each pushed to the disk (SyncTo) before the
// next. So a WAL that writes little writes few zeros, the spare is ready
// by about half of the active segment, and the disk sees the zeros
// spread between the log's syncs rather than as one 64 MiB burst: while
// the burst was being written back, every fdatasync of the log also
// flushed a share of it from the device cache (issue 3's measurements,
// docs/benchmarks.md). Pacing uses no timer: the writer's progress is
// the clock.
type preparer struct {
	w       *WAL
	req     chan struct{}
	ready   chan error
	done    chan struct{}
	pending bool
	// logged counts every byte the writer has written (all segments);
	// the preparer's allowance grows with it.
	logged atomic.Int64
	// waiting is set while the preparer waits for allowance; the writer
	// then pokes credit after its next write.
	waiting atomic.Bool
	credit  chan struct{}
}

const (
	spareStepBytes  = 256 << 10
	spareLeadBytes  = 1 << 20
	sparePaceFactor = 2
)

// start makes the first spare synchronously (so that the very first
// segment is preallocated too: a growing file costs a journal commit per
// fdatasync) and starts the preparing goroutine.
func (p *preparer) start(w *WAL) {
	p.w = w
	if w.opts.NoPreallocate {
		return
	}
	p.req = make(chan struct{}, 1)
	p.ready = make(chan error, 1)
	p.done = make(chan struct{})
	p.credit = make(chan struct{}, 1)
	p.pending = true
	p.ready <- w.makeSpare(nil)
	go p.loop()
}

func (p *preparer) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.req:
			err := p.w.makeSpare(p)
			if errors.Is(err, ErrClosed) {
				return
			}
			p.ready <- err
		case <-p.w.closing:
			return
		}
	}
}

// request asks for a spare segment (writer goroutine only).
func (p *preparer) request() {
	if p.req == nil || p.pending {
		return
	}
	p.pending = true
	p.req <- struct{}{}
}

// wrote tells the preparer that the writer wrote n bytes (writer
// goroutine only).
func (p *preparer) wrote(n int) {
	if p.req == nil {
		return
	}
	p.logged.Add(int64(n))
	if p.waiting.Load() {
		select {
		case p.credit <- struct{}{}:
		default:
		}
	}
}

// waitAllowance blocks until the log has been written far enough since
// base for zeros up to off, or until the WAL closes (ErrClosed).
func (p *preparer) waitAllowance(base, off int64) error {
	allowed := func() bool {
		return off <= spareLeadBytes+sparePaceFactor*(p.logged.Load()-base)
	}
	for !allowed() {
		p.waiting.Store(true)
		if allowed() {
			p.waiting.Store(false)
			return nil
		}
		select {
		case <-p.credit:
		case <-p.w.closing:
			p.waiting.Store(false)
			return ErrClosed
		}
		p.waiting.Store(false)
	}
	return nil
}

// take reports whether a spare segment is ready, without waiting for one
// being made: a fresh unpreallocated file is better than a stall.
func (p *preparer) take() bool {
	if p.req == nil || !p.pending {
		return false
	}
	select {
	case err := <-p.ready:
		p.pending = false
		if err != nil {
			p.w.opts.Logger.Warn("wal: preparing spare segment", "err", err)
			return false
		}
		return true
	default:
		return false
	}
}

func (p *preparer) stop() {
	if p.done != nil {
		<-p.done
	}
}

// makeSpare writes a zero-filled, synced spare segment, paced by p's
// allowance if p is not nil (at Open it is nil: nothing else uses the
// disk yet).
func (w *WAL) makeSpare(p *preparer) error {
	path := w.path(spareName)
	f, err := w.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	var base int64
	if p != nil {
		base = p.logged.Load()
	}
	zeros := make([]byte, spareStepBytes)
	for off := int64(0); off < w.opts.SegmentBytes && err == nil; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), w.opts.SegmentBytes-off)
		if p != nil {
			if err = p.waitAllowance(base, off+n); err != nil {
				break
			}
		}
		if _, err = f.Write(zeros[:n]); err == nil {
			_, err = f.SyncTo(off + n)
		}
	}
	if err == nil {
		err = f.SyncData()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		_ = w.fs.Remove(path)
	}
	return err
}
