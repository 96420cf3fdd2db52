package shard

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Errors of the KV's reads and maintenance calls.
var (
	// ErrShardNotHosted: the KV has no state for the shard (never
	// created, or deleted). Retrying is safe once the shard is installed.
	ErrShardNotHosted = errors.New("shard: shard not hosted by this state machine")
	// ErrKeyOutOfRange: a read named a key outside the shard's range;
	// the caller's routing is stale. Retry after refreshing the route.
	ErrKeyOutOfRange = errors.New("shard: key outside the shard's range")
	// ErrKVClosed: the KV was closed. Not retryable.
	ErrKVClosed = errors.New("shard: kv closed")
)

var _ StateMachine = (*KV)(nil)

// KV is the default [StateMachine]: every shard of the node in one pebble
// DB, so a round's applies for many shards are one pebble batch and one
// sync point covers them all.
//
// Key layout (every pebble key starts with a one-byte prefix):
//
//	| pebble key                     | value                                  |
//	|--------------------------------|----------------------------------------|
//	| 0x01 + user key                | the user value                         |
//	| 0x02 + shard ID (8 bytes, BE)  | MarshalShardState of the shard         |
//	| 0x03 + key                     | a key of the meta shard (MetaShardID)  |
//	| 0x04 + sequence (8 bytes, BE)  | applied record: (shard, applied, term) |
//	|                                |   for the shards of one apply batch    |
//
// A shard's range [Start, End) is thus the contiguous pebble span
// [0x01+Start, 0x01+End), or [0x01+Start, 0x02) when End is empty (for the
// meta shard, the same with 0x03 and 0x04), so a
// snapshot is one bounded iterator and an install or removal one excise.
// The metadata keys sort apart from all data, so no shard's span ever
// covers another shard's state, and Load finds every shard with one scan.
// A shard's applied index is written in the same batch as the data it
// describes, in its state key (ApplyBatch.SetState) or, when nothing else
// in its state changed, in the batch's applied record (see
// kv_applied.go): after a crash pebble recovers a prefix of the batches,
// in which data and applied index always agree. A shard's applied index
// is the largest of its state key's and its records'; records are folded
// into the state keys at each sync point and at Load.
//
// Concurrency: a KV is safe for concurrent use. Apply batches, Snapshot
// and Install for one shard must not overlap (the store serializes them
// per shard); Get, GetMany and Scan may run at any time, concurrently
// with all of them, and see committed batches only.
type KV struct {
	db        *pebble.DB
	popts     *pebble.Options
	fs        vfs.FS
	ingestDir string
	logger    *slog.Logger
	// ingestSeq names staged snapshot files uniquely.
	ingestSeq atomic.Uint64
	// indexedApply makes apply batches read their own writes through a
	// pebble indexed batch instead of the overlay map; kept so that the
	// benchmark can compare the two (see applyView).
	indexedApply bool

	// life is held shared by every operation that touches db and
	// exclusively by Close, so that no call reaches a closed pebble DB
	// (which panics).
	life struct {
		sync.RWMutex
		closed bool
	}
	// fold is held shared by apply batch commits and Snapshot, and
	// exclusively while applied records are folded into the state keys
	// (foldApplied), so a fold sees every record committed before it and
	// none is committed while it rewrites the state keys.
	fold sync.RWMutex
	// appliedSeq is the sequence number of the last applied record.
	appliedSeq atomic.Uint64
	// foldedSeq is the sequence number of the last record folded into the
	// state keys (guarded by fold). Invariant: foldedSeq <= appliedSeq.
	foldedSeq uint64

	mu struct {
		sync.RWMutex
		// descs holds the descriptor of every hosted shard.
		// Invariant: equal to the Desc of the shard's committed state key.
		descs map[ShardID]Descriptor
		// sources are the open snapshot sources, closed by Close.
		sources map[*kvSnapshotSource]struct{}
	}
}

// OpenKV opens (or creates) the KV in dir. The pebble DB lives in
// dir/pebble; dir/ingest stages snapshot files before they are ingested
// and is emptied on open (leftovers are from an interrupted Install).
func OpenKV(dir string, opts KVOptions) (*KV, error) {
	o := opts
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	kv := &KV{fs: o.FS, ingestDir: o.FS.PathJoin(dir, "ingest"), logger: o.Logger}
	if err := o.FS.RemoveAll(kv.ingestDir); err != nil {
		return nil, fmt.Errorf("shard: clear %s: %w", kv.ingestDir, err)
	}
	pebbleDir := o.FS.PathJoin(dir, "pebble")
	if err := createDirs(o.FS, dir, pebbleDir, kv.ingestDir); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	kv.popts = o.pebbleOptions(cache)
	db, err := pebble.Open(pebbleDir, kv.popts)
	if err != nil {
		return nil, fmt.Errorf("shard: open pebble in %s: %w", dir, err)
	}
	kv.db = db
	if err := kv.initAppliedSeq(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("shard: open pebble in %s: %w", dir, err)
	}
	kv.mu.descs = map[ShardID]Descriptor{}
	kv.mu.sources = map[*kvSnapshotSource]struct{}{}
	return kv, nil
}

// createDirs creates dir and its subdirectories subs and syncs the
// directories holding their entries. Pebble syncs what it creates inside
// its own directory but not that directory's entry in its parent: without
// this, a crash soon after a node's first start could lose the whole
// store, synced data included.
func createDirs(fs vfs.FS, dir string, subs ...string) error {
	for _, d := range append([]string{dir}, subs...) {
		if err := fs.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("shard: create %s: %w", d, err)
		}
	}
	for _, d := range []string{fs.PathDir(dir), dir} {
		f, err := fs.OpenDir(d)
		if err != nil {
			return fmt.Errorf("shard: open directory %s: %w", d, err)
		}
		err = errors.Join(f.Sync(), f.Close())
		if err != nil {
			return fmt.Errorf("shard: sync directory %s: %w", d, err)
		}
	}
	return nil
}

// SyncPoint folds the applied records into the state keys and makes
// every committed apply batch durable: pebble's WAL is sequential, so one
// synced empty record syncs all the unsynced batches before it.
func (kv *KV) SyncPoint() error {
	if err := kv.enter(); err != nil {
		return err
	}
	defer kv.life.RUnlock()
	kv.fold.Lock()
	err := kv.foldApplied()
	kv.fold.Unlock()
	if err != nil {
		return err
	}
	if err := kv.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("shard: sync point: %w", err)
	}
	return nil
}

// Metrics returns pebble's metrics (LSM shape, compactions, cache, WAL),
// or nil once the KV is closed.
func (kv *KV) Metrics() *pebble.Metrics {
	if kv.enter() != nil {
		return nil
	}
	defer kv.life.RUnlock()
	return kv.db.Metrics()
}

// Close closes any snapshot source still open and then the pebble DB. It
// waits for reads in progress. Apply batches must be closed first.
func (kv *KV) Close() error {
	kv.life.Lock()
	defer kv.life.Unlock()
	if kv.life.closed {
		return ErrKVClosed
	}
	kv.life.closed = true
	kv.mu.Lock()
	srcs := make([]*kvSnapshotSource, 0, len(kv.mu.sources))
	for s := range kv.mu.sources {
		srcs = append(srcs, s)
	}
	kv.mu.Unlock()
	for _, s := range srcs {
		_ = s.Close()
	}
	if err := kv.db.Close(); err != nil {
		return fmt.Errorf("shard: close pebble: %w", err)
	}
	return nil
}

// enter takes the shared lifetime lock, failing once the KV is closed.
// The caller releases it with kv.life.RUnlock.
func (kv *KV) enter() error {
	kv.life.RLock()
	if kv.life.closed {
		kv.life.RUnlock()
		return ErrKVClosed
	}
	return nil
}

// desc returns the descriptor of a hosted shard.
func (kv *KV) desc(id ShardID) (Descriptor, bool) {
	kv.mu.RLock()
	d, ok := kv.mu.descs[id]
	kv.mu.RUnlock()
	return d, ok
}

// setDescs records committed descriptors.
func (kv *KV) setDescs(states map[ShardID]ShardState) {
	kv.mu.Lock()
	for id, st := range states {
		kv.mu.descs[id] = st.Desc
	}
	kv.mu.Unlock()
}
