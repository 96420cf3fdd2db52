package shard

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrInvalidKVOptions is returned by OpenKV for options out of bounds;
// fix the options, a retry with the same ones fails again.
var ErrInvalidKVOptions = errors.New("shard: invalid kv options")

// Defaults of KVOptions, each documented on its field.
const (
	DefaultKVCacheBytes    = 256 << 20
	DefaultKVMemTableBytes = 64 << 20

	minKVMemTableBytes = 1 << 20
	maxKVMemTableBytes = 4 << 30
	// kvMemTableStopWrites is how many memtables may queue for flush before
	// pebble stalls writes: 4 rather than pebble's 2 absorbs a burst of
	// rounds while a flush runs.
	kvMemTableStopWrites = 4
	// kvMaxCompactions is the upper end of pebble's compaction concurrency
	// (its default range is 1..1, which falls behind a write-heavy node).
	kvMaxCompactions = 4
)

// KVOptions configures a KV. The zero value of every field means its
// default; OpenKV copies the options.
type KVOptions struct {
	// FS is the file system for the pebble DB and the snapshot files
	// staged for ingestion. Default vfs.Default (the OS). Tests pass a
	// vfs.MemFS, possibly wrapped by internal/vfs.FaultFS.
	FS vfs.FS
	// CacheBytes is the size of pebble's block cache. Default 256 MiB;
	// at least 0 (a negative value is rejected).
	CacheBytes int64
	// MemTableBytes is the size of one pebble memtable; up to 4 of them
	// may be in memory at once. Default 64 MiB; bounds [1 MiB, 4 GiB].
	MemTableBytes int64
	// Logger receives pebble's log lines. Default: a logger that discards
	// everything (fatal errors still stop the process).
	Logger *slog.Logger
}

// EnsureDefaults fills every zero field with its default and returns o.
func (o *KVOptions) EnsureDefaults() *KVOptions {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultKVCacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = DefaultKVMemTableBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports the first field out of bounds (after EnsureDefaults).
func (o *KVOptions) Validate() error {
	switch {
	case o.CacheBytes < 0:
		return fmt.Errorf("%w: CacheBytes %d", ErrInvalidKVOptions, o.CacheBytes)
	case o.MemTableBytes < minKVMemTableBytes || o.MemTableBytes > maxKVMemTableBytes:
		return fmt.Errorf("%w: MemTableBytes %d outside [%d, %d]", ErrInvalidKVOptions, o.MemTableBytes, minKVMemTableBytes, maxKVMemTableBytes)
	}
	return nil
}

// String prints the effective options.
func (o KVOptions) String() string {
	return fmt.Sprintf("shard.KVOptions{CacheBytes: %d, MemTableBytes: %d}", o.CacheBytes, o.MemTableBytes)
}

// pebbleOptions builds pebble's options for a store whose block cache is
// cache. FormatNewest because Excise and IngestAndExcise, which snapshot
// install and replica removal rely on, are refused by pebble's default
// (oldest) format.
func (o *KVOptions) pebbleOptions(cache *pebble.Cache) *pebble.Options {
	lg := pebbleLogger{l: o.Logger}
	po := &pebble.Options{
		FS:                          &walGuardFS{FS: o.FS, fatal: func(msg string) { lg.Fatalf("%s", msg) }},
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                uint64(o.MemTableBytes),
		MemTableStopWritesThreshold: kvMemTableStopWrites,
		CompactionConcurrencyRange:  func() (int, int) { return 1, kvMaxCompactions },
		Logger:                      lg,
	}
	// A flush or compaction that fails (a failed write or fsync of a
	// table, of the manifest) is retried by pebble, forever if the disk
	// keeps failing, while the node goes on serving: a node whose disk
	// fails must stop instead (fail-stop; chaos.TestDiskFaults saw a node
	// retry for as long as its syncs failed).
	po.EventListener = &pebble.EventListener{
		FlushEnd: func(fi pebble.FlushInfo) {
			// A flush that produced no table reports "pebble: empty
			// table" (an unexported error): that is no failure.
			if fi.Err != nil && fi.Err.Error() != "pebble: empty table" {
				lg.Fatalf("flush failed: %v", fi.Err)
			}
		},
		CompactionEnd: func(ci pebble.CompactionInfo) {
			if ci.Err != nil && !errors.Is(ci.Err, pebble.ErrCancelledCompaction) {
				lg.Fatalf("compaction failed: %v", ci.Err)
			}
		},
	}
	po.EnsureDefaults()
	return po
}

// pebbleLogger adapts slog to pebble's Logger. Pebble calls Fatalf when a
// WAL write or sync fails inside its commit pipeline and requires that it
// not return. Stopping the process is also what the design wants: after a
// failed fsync the page cache may have dropped acknowledged data, so the
// node must not go on (see "Durability and apply" in DESIGN.md).
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	fmt.Fprintf(os.Stderr, "shard: fatal pebble error, stopping: %s\n", msg)
	os.Exit(70)
}
