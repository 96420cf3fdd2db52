package wal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// segment is one numbered segment file. Its read handle serves preads; it
// is closed when the index has dropped the segment and no reader holds it.
type segment struct {
	num  uint32
	name string
	r    vfs.File
	// refs counts the index's reference plus one per in-flight read.
	refs atomic.Int32
	// bytes is how far the segment has been written.
	bytes atomic.Int64
}

func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.r != nil {
		_ = s.r.Close()
	}
}

const (
	segSuffix = ".wal"
	spareName = "spare.tmp"
)

func segName(num uint32) string { return fmt.Sprintf("%08d%s", num, segSuffix) }

// parseSegName returns the number of a segment file name.
func parseSegName(name string) (uint32, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

func (w *WAL) path(name string) string { return w.fs.PathJoin(w.opts.Dir, name) }

// prepareSegment makes sure the active segment can take a write of about
// size bytes, rotating to a new one if not. A write never spans segments;
// one larger than a whole segment goes alone into a fresh one, which grows.
// It reports whether it rotated.
func (w *WAL) prepareSegment(size int) (bool, error) {
	need := int64(size + commitSize)
	if w.wr.active != nil && (w.wr.off+need <= w.opts.SegmentBytes || w.wr.off <= segmentSize) {
		return false, nil
	}
	w.waitIdle()
	return true, w.rotate()
}

// rotate closes the active segment (already synced) and opens the next:
// the spare file, zero-filled in the background, renamed to its number,
// or a new empty file. The directory is synced before anything is
// written into the new segment, so its name is durable before any
// acknowledged record can depend on it.
func (w *WAL) rotate() error {
	if w.wr.file != nil {
		if err := w.wr.file.Close(); err != nil {
			return classify("closing "+w.wr.active.name, err)
		}
		w.wr.file = nil
	}
	num := w.wr.nextSeg
	name := segName(num)
	f, err := w.openNewSegment(name)
	if err != nil {
		return err
	}
	if err := w.syncDir(); err != nil {
		_ = f.Close()
		return err
	}
	r, err := w.fs.Open(w.path(name))
	if err != nil {
		_ = f.Close()
		return classify("opening "+name+" for reading", err)
	}
	seg := &segment{num: num, name: name, r: r}
	seg.refs.Store(1)
	w.idx.Lock()
	w.idx.segs[num] = seg
	w.idx.cache.reset(num)
	w.idx.Unlock()
	w.wr.active, w.wr.file, w.wr.off = seg, f, 0
	w.wr.nextSeg++
	w.wr.segNums = append(w.wr.segNums, num)
	w.m.segmentsCreated.Add(1)
	return w.planRewrite()
}

// openNewSegment returns a read-write handle on a new segment named name.
func (w *WAL) openNewSegment(name string) (vfs.File, error) {
	if w.prep.take() {
		if err := w.fs.Rename(w.path(spareName), w.path(name)); err != nil {
			return nil, classify("renaming spare to "+name, err)
		}
		f, err := w.fs.OpenReadWrite(w.path(name), vfs.WriteCategoryUnspecified)
		if err != nil {
			return nil, classify("opening "+name, err)
		}
		return f, nil
	}
	f, err := w.fs.Create(w.path(name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, classify("creating "+name, err)
	}
	return f, nil
}

// syncDir makes the directory's entries (new, renamed or deleted
// segments) durable.
func (w *WAL) syncDir() error {
	d, err := w.fs.OpenDir(w.opts.Dir)
	if err != nil {
		return classify("opening directory", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classify("syncing directory", err)
	}
	return nil
}

// preparer zero-fills the next segment ahead of need, in its own
// goroutine, so that rotation is a rename and each fdatasync into the
// segment changes no file size or extent (the cheapest mode measured on
// ext4; fallocate was slower). The writer asks for the spare once the
// active segment is half full, not at Open: zero-filling competes with
// the log's own syncs for the disk, and a WAL that writes little should
// not pay for it. The zeros are flushed in steps (SyncTo) so writeback
// never queues a whole segment in front of a commit's fdatasync.
type preparer struct {
	w       *WAL
	req     chan struct{}
	ready   chan error
	done    chan struct{}
	pending bool
}

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
	p.pending = true
	p.ready <- w.makeSpare()
	go p.loop()
}

func (p *preparer) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.req:
			p.ready <- p.w.makeSpare()
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

// makeSpare writes a zero-filled, synced spare segment.
func (w *WAL) makeSpare() error {
	path := w.path(spareName)
	f, err := w.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < w.opts.SegmentBytes && err == nil; off += int64(len(zeros)) {
		_, err = f.Write(zeros[:min(int64(len(zeros)), w.opts.SegmentBytes-off)])
		if err == nil && off%(4<<20) == 0 {
			_, err = f.SyncTo(off)
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
