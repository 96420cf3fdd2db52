package wal

import (
	"errors"
	"fmt"
	"syscall"
)

// Errors returned by the WAL. Each says whether retrying is safe.
var (
	// ErrClosed: the WAL was closed. Not retryable on this WAL.
	ErrClosed = errors.New("wal: closed")
	// ErrFailed wraps the write or sync error that fail-stopped the WAL.
	// Every later write fails with it. Not retryable: after a failed
	// fsync the page cache may have dropped data, so the process must
	// restart and recover from disk.
	ErrFailed = errors.New("wal: failed")
	// ErrDiskFull: the file system is out of space (ENOSPC). It always
	// comes wrapped together with ErrFailed: the WAL fail-stops like on
	// any write error (reads keep working), and the operator frees space
	// and restarts. Not retryable on this WAL.
	ErrDiskFull = errors.New("wal: disk full")
	// ErrInvalidBatch: a batch broke the log's shape (a gap after the last
	// index, an append at or below the compaction point, non-consecutive
	// indexes). Nothing of that batch was written; other batches are
	// unaffected. Retrying the same batch fails again.
	ErrInvalidBatch = errors.New("wal: invalid batch")
	// ErrCompacted: the requested index is at or below the group's
	// compaction point (Term answers at exactly the compaction point).
	ErrCompacted = errors.New("wal: index compacted")
	// ErrUnavailable: the requested index is above the group's last index.
	ErrUnavailable = errors.New("wal: index unavailable")
	// ErrUnknownGroup: the WAL holds nothing for this group.
	ErrUnknownGroup = errors.New("wal: unknown group")
	// ErrInvalidOptions: Options.Validate rejected a field.
	ErrInvalidOptions = errors.New("wal: invalid options")
	// ErrCorrupt is the class of every [*CorruptionError].
	ErrCorrupt = errors.New("wal: corruption")
)

// CorruptionError reports data on disk that fails its checksum or cannot
// be decoded where a torn write cannot explain it. errors.Is(err,
// ErrCorrupt) holds. Not retryable: an operator must look.
type CorruptionError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corruption in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// classify wraps an I/O error met while writing into the log as a
// fail-stop error, marking a full disk.
func classify(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %w: %s: %w", ErrFailed, ErrDiskFull, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrFailed, op, err)
}
