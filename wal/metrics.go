package wal

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// metrics are the WAL's counters, updated with typed atomics.
type metrics struct {
	fsyncs, batches, entries         atomic.Uint64
	bytesIn, bytesWritten, syncNanos atomic.Uint64
	segmentsCreated, segmentsDeleted atomic.Uint64
	rewrittenGroups, rewrittenBytes  atomic.Uint64
	cacheHits, preads                atomic.Uint64
	recoveredBytes                   atomic.Uint64
	recoveryNanos                    atomic.Int64
}

// Metrics is a snapshot of the WAL's counters and sizes, for /metrics.
type Metrics struct {
	// Fsyncs counts write+fdatasync rounds; Batches the batches they made
	// durable; Entries the entries in those batches.
	Fsyncs, Batches, Entries uint64
	// BytesIn is what callers' batches encoded to; BytesWritten what was
	// written (adding segment headers, commit records and rewrites).
	BytesIn, BytesWritten uint64
	// SyncTime is the total time spent in write+fdatasync.
	SyncTime time.Duration
	// SegmentsCreated and SegmentsDeleted count segment files; Segments
	// is how many exist now.
	SegmentsCreated, SegmentsDeleted uint64
	Segments                         int
	// RewrittenGroups and RewrittenBytes count the collector's rewrites.
	RewrittenGroups, RewrittenBytes uint64
	// CacheHits counts records read from the tail cache, Preads those read
	// from segment files.
	CacheHits, Preads uint64
	// Groups is the number of groups held; LiveBytes the size of the
	// records their live entries are in.
	Groups    int
	LiveBytes int64
	// IndexBytes estimates the memory of the in-memory index (group
	// structs, spans, term runs, map), excluding the tail cache.
	IndexBytes int64
	// RecoveryTime and RecoveredBytes describe the scan done by Open.
	RecoveryTime   time.Duration
	RecoveredBytes uint64
}

// Metrics returns a snapshot. It takes the index's read lock and walks
// the groups to size the index: call it about once a second, not per op.
func (w *WAL) Metrics() Metrics {
	m := Metrics{
		Fsyncs: w.m.fsyncs.Load(), Batches: w.m.batches.Load(), Entries: w.m.entries.Load(),
		BytesIn: w.m.bytesIn.Load(), BytesWritten: w.m.bytesWritten.Load(),
		SyncTime:        time.Duration(w.m.syncNanos.Load()),
		SegmentsCreated: w.m.segmentsCreated.Load(), SegmentsDeleted: w.m.segmentsDeleted.Load(),
		RewrittenGroups: w.m.rewrittenGroups.Load(), RewrittenBytes: w.m.rewrittenBytes.Load(),
		CacheHits: w.m.cacheHits.Load(), Preads: w.m.preads.Load(),
		RecoveryTime:   time.Duration(w.m.recoveryNanos.Load()),
		RecoveredBytes: w.m.recoveredBytes.Load(),
	}
	w.idx.RLock()
	defer w.idx.RUnlock()
	m.Segments = len(w.idx.segs)
	m.LiveBytes = w.idx.liveBytes
	const mapEntry = 8 + 8 + 2 // key, pointer, swiss-table control overhead (approx.)
	for _, g := range w.idx.groups {
		if !g.exists {
			continue
		}
		m.Groups++
		m.IndexBytes += int64(unsafe.Sizeof(*g)) + mapEntry +
			int64(cap(g.spans))*int64(unsafe.Sizeof(span{})) + int64(cap(g.terms))*int64(unsafe.Sizeof(termRun{}))
	}
	return m
}
