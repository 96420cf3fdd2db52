package shard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// errSnapshotClosed is returned by reads of a closed snapshot reader or
// opens of a closed source.
var errSnapshotClosed = errors.New("shard: snapshot source closed")

// Snapshot captures shard id's data and state at one instant and returns
// the state and a source of the stream described in kv_snapshot_stream.go.
//
// The view is a pebble eventually-file-only snapshot over the shard's data
// span and its state key, not a plain snapshot: a stream to a slow follower
// may last minutes, and a plain snapshot would pin every memtable of the
// node (all shards) for that long, while this one lets them flush and pins
// only the files under the shard's span. The state is read from the same
// view, so it describes exactly the data streamed.
func (kv *KV) Snapshot(id ShardID) (ShardState, SnapshotSource, error) {
	if err := kv.enter(); err != nil {
		return ShardState{}, nil, err
	}
	defer kv.life.RUnlock()
	d, ok := kv.desc(id)
	if !ok {
		return ShardState{}, nil, fmt.Errorf("%w: shard %d", ErrShardNotHosted, id)
	}
	lo, hi := dataSpan(&d)
	ranges := []pebble.KeyRange{{Start: lo, End: hi}, {Start: metaKey(id), End: metaKeyEnd(id)}}
	if keyspace(id) > kvMetaPrefix {
		// The meta shard's data sorts after the state keys; pebble wants
		// the ranges in order.
		ranges[0], ranges[1] = ranges[1], ranges[0]
	}
	// NB: the shard's applied index may be in an applied record newer than
	// its state key. Under kv.fold shared no fold deletes records, and no
	// apply of this shard runs during Snapshot, so the records read after
	// the view is taken hold the same applied index as the view.
	kv.fold.RLock()
	efos := kv.db.NewEventuallyFileOnlySnapshot(ranges)
	st, raw, err := readSnapshotState(efos, id, &d)
	var m appliedMark
	var recorded bool
	if err == nil {
		m, recorded, err = kv.recordedApplied(id)
	}
	kv.fold.RUnlock()
	if err != nil {
		_ = efos.Close()
		return ShardState{}, nil, err
	}
	if recorded && m.applied > st.Applied {
		st.Applied, st.AppliedTerm = m.applied, m.term
		raw = MarshalShardState(st)
	}
	src := &kvSnapshotSource{kv: kv, lo: lo, hi: hi, state: raw, efos: efos, readers: map[*kvSnapshotReader]struct{}{}}
	kv.mu.Lock()
	kv.mu.sources[src] = struct{}{}
	kv.mu.Unlock()
	return st, src, nil
}

// readSnapshotState reads shard id's state from the snapshot view and
// checks that it covers the range the view was taken over.
func readSnapshotState(efos *pebble.EventuallyFileOnlySnapshot, id ShardID, d *Descriptor) (ShardState, []byte, error) {
	raw, found, err := getCopy(efos, metaKey(id))
	if err != nil {
		return ShardState{}, nil, fmt.Errorf("shard: snapshot of shard %d: %w", id, err)
	}
	if !found {
		return ShardState{}, nil, fmt.Errorf("%w: shard %d has no state key", ErrShardNotHosted, id)
	}
	st, err := UnmarshalShardState(raw)
	if err != nil {
		return ShardState{}, nil, fmt.Errorf("shard: snapshot of shard %d: %w", id, err)
	}
	if !bytes.Equal(st.Desc.Start, d.Start) || !bytes.Equal(st.Desc.End, d.End) {
		return ShardState{}, nil, fmt.Errorf("shard: snapshot of shard %d: stored range %v differs from %v", id, st.Desc, d)
	}
	return st, raw, nil
}

// kvSnapshotSource is the KV's SnapshotSource. Each Open iterates the same
// pebble view afresh; Close closes the readers still open and the view.
type kvSnapshotSource struct {
	kv     *KV
	lo, hi []byte
	state  []byte // MarshalShardState as of the view

	mu      sync.Mutex
	efos    *pebble.EventuallyFileOnlySnapshot
	readers map[*kvSnapshotReader]struct{}
	closed  bool
}

// Open starts a new stream from its first byte.
func (s *kvSnapshotSource) Open() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSnapshotClosed
	}
	it, err := s.efos.NewIter(&pebble.IterOptions{LowerBound: s.lo, UpperBound: s.hi})
	if err != nil {
		return nil, fmt.Errorf("shard: open snapshot stream: %w", err)
	}
	r := newKVSnapshotReader(s, it)
	s.readers[r] = struct{}{}
	return r, nil
}

// Close releases the view. Readers still open fail from then on.
func (s *kvSnapshotSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	readers := make([]*kvSnapshotReader, 0, len(s.readers))
	for r := range s.readers {
		readers = append(readers, r)
	}
	s.mu.Unlock()
	var errs []error
	for _, r := range readers {
		errs = append(errs, r.closeIter())
	}
	errs = append(errs, s.efos.Close())
	s.kv.mu.Lock()
	delete(s.kv.mu.sources, s)
	s.kv.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shard: close snapshot source: %w", err)
	}
	return nil
}

// forget drops a closed reader.
func (s *kvSnapshotSource) forget(r *kvSnapshotReader) {
	s.mu.Lock()
	delete(s.readers, r)
	s.mu.Unlock()
}
