package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ErrBadScanLimit: Scan was called with a limit below 1. Not retryable.
var ErrBadScanLimit = errors.New("shard: scan limit must be positive")

// KeyValue is one pair returned by Scan; both slices belong to the caller.
type KeyValue struct {
	Key   []byte
	Value []byte
}

// Load returns the committed state of every shard the KV hosts, in shard
// ID order, and makes them the KV's descriptors (so reads and applies
// know each shard's range). It first folds the applied records into the
// state keys (not synced; the next sync point syncs the fold).
func (kv *KV) Load() ([]ShardState, error) {
	if err := kv.enter(); err != nil {
		return nil, err
	}
	defer kv.life.RUnlock()
	kv.fold.Lock()
	err := kv.foldApplied()
	kv.fold.Unlock()
	if err != nil {
		return nil, err
	}
	it, err := kv.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kvMetaPrefix}, UpperBound: []byte{kvMetaPrefix + 1}})
	if err != nil {
		return nil, fmt.Errorf("shard: load: %w", err)
	}
	var states []ShardState
	descs := map[ShardID]Descriptor{}
	for ok := it.First(); ok; ok = it.Next() {
		st, err := decodeStateKey(it.Key(), it.Value())
		if err != nil {
			_ = it.Close()
			return nil, err
		}
		states = append(states, st)
		descs[st.Desc.ID] = st.Desc
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("shard: load: %w", err)
	}
	kv.mu.Lock()
	kv.mu.descs = descs
	kv.mu.Unlock()
	return states, nil
}

// decodeStateKey decodes one state key and value, checking that the key
// names the shard the value describes.
func decodeStateKey(k, v []byte) (ShardState, error) {
	if len(k) != kvMetaKeyLen {
		return ShardState{}, fmt.Errorf("%w: state key %x has length %d", ErrBadShardState, k, len(k))
	}
	st, err := UnmarshalShardState(v)
	if err != nil {
		return ShardState{}, fmt.Errorf("state key %x: %w", k, err)
	}
	if id := ShardID(binary.BigEndian.Uint64(k[1:])); id != st.Desc.ID {
		return ShardState{}, fmt.Errorf("%w: state key of shard %d holds shard %d", ErrBadShardState, id, st.Desc.ID)
	}
	return st, nil
}

// Get returns the committed value of key in shard id, as a copy.
func (kv *KV) Get(id ShardID, key []byte) (value []byte, found bool, err error) {
	d, ok := kv.desc(id)
	if !ok {
		return nil, false, fmt.Errorf("%w: shard %d", ErrShardNotHosted, id)
	}
	if !d.Contains(key) {
		return nil, false, fmt.Errorf("%w: %q not in %v", ErrKeyOutOfRange, key, d)
	}
	if err := kv.enter(); err != nil {
		return nil, false, err
	}
	defer kv.life.RUnlock()
	value, found, err = getCopy(kv.db, appendDataKey(make([]byte, 0, 1+len(key)), keyspace(id), key))
	if err != nil {
		return nil, false, fmt.Errorf("shard: get from shard %d: %w", id, err)
	}
	return value, found, nil
}

// GetMany returns the committed values of keys, all of shard id, as
// copies (found[i] false: keys[i] is absent). The keys are read through
// one pebble iterator, which is a view of the DB at the moment it was
// made: a round's apply batch commits as one pebble batch, so the view
// holds each batch whole or not at all, and a multi-key command is never
// seen half applied. (Not a pebble Snapshot: pebble documents that an
// excise, which installs and replica removals use, shows through one,
// while an iterator keeps reading the version it was made on.)
func (kv *KV) GetMany(id ShardID, keys [][]byte) (vals [][]byte, found []bool, err error) {
	d, ok := kv.desc(id)
	if !ok {
		return nil, nil, fmt.Errorf("%w: shard %d", ErrShardNotHosted, id)
	}
	for _, k := range keys {
		if !d.Contains(k) {
			return nil, nil, fmt.Errorf("%w: %q not in %v", ErrKeyOutOfRange, k, d)
		}
	}
	if err := kv.enter(); err != nil {
		return nil, nil, err
	}
	defer kv.life.RUnlock()
	lo, hi := dataSpan(&d)
	it, err := kv.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, nil, fmt.Errorf("shard: get from shard %d: %w", id, err)
	}
	vals, found = make([][]byte, len(keys)), make([]bool, len(keys))
	p := keyspace(id)
	var buf []byte
	for i, k := range keys {
		buf = appendDataKey(buf[:0], p, k)
		// The default comparer's prefix is the whole key: a prefix seek
		// finds exactly k, as a Get would.
		if !it.SeekPrefixGE(buf) || !bytes.Equal(it.Key(), buf) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, nil, fmt.Errorf("shard: get from shard %d: %w", id, err)
		}
		vals[i], found[i] = append(make([]byte, 0, len(v)), v...), true
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, nil, fmt.Errorf("shard: get from shard %d: %w", id, err)
	}
	return vals, found, nil
}

// Scan returns up to limit committed pairs of shard id with keys in
// [start, end) (an empty end means no upper bound), clamped to the shard's
// range, in key order. The pairs are copies.
func (kv *KV) Scan(id ShardID, start, end []byte, limit int) ([]KeyValue, error) {
	if limit < 1 {
		return nil, ErrBadScanLimit
	}
	d, ok := kv.desc(id)
	if !ok {
		return nil, fmt.Errorf("%w: shard %d", ErrShardNotHosted, id)
	}
	lo, hi, ok := clampSpan(&d, start, end)
	if !ok {
		return nil, nil
	}
	if err := kv.enter(); err != nil {
		return nil, err
	}
	defer kv.life.RUnlock()
	it, err := kv.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("shard: scan shard %d: %w", id, err)
	}
	var out []KeyValue
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("shard: scan shard %d: %w", id, err)
		}
		k := it.Key()[1:]
		// One allocation per pair, key and value side by side.
		buf := make([]byte, len(k)+len(v))
		copy(buf, k)
		copy(buf[len(k):], v)
		out = append(out, KeyValue{Key: buf[:len(k):len(k)], Value: buf[len(k):]})
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("shard: scan shard %d: %w", id, err)
	}
	return out, nil
}

// approxBytes estimates the bytes shard d's data takes on disk.
func (kv *KV) approxBytes(d *Descriptor) uint64 {
	if err := kv.enter(); err != nil {
		return 0
	}
	defer kv.life.RUnlock()
	lo, hi := dataSpan(d)
	n, err := kv.db.EstimateDiskUsage(lo, hi)
	if err != nil {
		return 0
	}
	return n
}
