package wal

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Default option values. Each is documented on its Options field.
const (
	DefaultSegmentBytes      = 64 << 20
	DefaultCompressThreshold = 512
	DefaultCacheBytes        = 16 << 20
	DefaultSlowSyncThreshold = 100 * time.Millisecond

	minSegmentBytes = 4 << 10
	maxSegmentBytes = 1 << 30
)

// Options configures a WAL. The zero value of every field means its
// default; Open copies the Options, so the caller may reuse them.
type Options struct {
	// Dir is the directory holding the segments. Required.
	Dir string
	// FS is the file system. Default vfs.Default (the OS). Tests pass a
	// vfs.MemFS, possibly wrapped by internal/vfs.FaultFS.
	FS vfs.FS
	// SegmentBytes is the size each segment is preallocated to. A write
	// larger than a whole segment still goes into one segment, which then
	// grows past this size. Default 64 MiB; bounds [4 KiB, 1 GiB].
	SegmentBytes int64
	// CompressThreshold is the payload size in bytes above which an
	// entries record is compressed with s2. Default 512; -1 disables
	// compression.
	CompressThreshold int
	// CacheBytes bounds the in-memory copy of the most recently written
	// bytes of the active segment, from which reads of recent entries are
	// served without a pread. Default 16 MiB; -1 disables the cache.
	CacheBytes int
	// NoPreallocate disables writing zeros ahead into new segments. By
	// default (false) Open zero-fills the first segment and a background
	// goroutine zero-fills each next one once the active segment is half
	// full, which on ext4 makes each fdatasync cheaper because the file's
	// size and extents no longer change. Tests that count file-system
	// operations turn it off.
	NoPreallocate bool
	// SlowSyncThreshold is the fdatasync duration above which
	// EventListener.SlowSync is called. Default 100ms.
	SlowSyncThreshold time.Duration
	// Logger receives the WAL's log lines (open, slow sync, fail-stop).
	// Default: a logger that discards everything (never slog.Default, so
	// a library does not write to the process's global logger).
	Logger *slog.Logger
	// EventListener holds optional callbacks.
	EventListener EventListener
}

// EventListener holds optional callbacks, called from the WAL's own
// goroutines; they must not block and must not call back into the WAL.
type EventListener struct {
	// SlowSync is called when one fdatasync took longer than
	// Options.SlowSyncThreshold.
	SlowSync func(d time.Duration)
	// Failed is called once when the WAL becomes fail-stopped.
	Failed func(err error)
	// SegmentDeleted is called when a segment file is removed.
	SegmentDeleted func(segment uint64)
}

// EnsureDefaults fills every zero field with its default and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.CompressThreshold == 0 {
		o.CompressThreshold = DefaultCompressThreshold
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.SlowSyncThreshold == 0 {
		o.SlowSyncThreshold = DefaultSlowSyncThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports the first field out of bounds (after EnsureDefaults).
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("%w: Dir is required", ErrInvalidOptions)
	case o.SegmentBytes < minSegmentBytes || o.SegmentBytes > maxSegmentBytes:
		return fmt.Errorf("%w: SegmentBytes %d outside [%d, %d]", ErrInvalidOptions, o.SegmentBytes, minSegmentBytes, maxSegmentBytes)
	case o.CompressThreshold < -1:
		return fmt.Errorf("%w: CompressThreshold %d", ErrInvalidOptions, o.CompressThreshold)
	case o.CacheBytes < -1:
		return fmt.Errorf("%w: CacheBytes %d", ErrInvalidOptions, o.CacheBytes)
	case o.SlowSyncThreshold < 0:
		return fmt.Errorf("%w: SlowSyncThreshold %v", ErrInvalidOptions, o.SlowSyncThreshold)
	}
	return nil
}

// String prints the effective options.
func (o Options) String() string {
	return fmt.Sprintf("wal.Options{Dir: %q, SegmentBytes: %d, CompressThreshold: %d, CacheBytes: %d, NoPreallocate: %t, SlowSyncThreshold: %v}",
		o.Dir, o.SegmentBytes, o.CompressThreshold, o.CacheBytes, o.NoPreallocate, o.SlowSyncThreshold)
}
