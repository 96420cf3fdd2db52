package shard

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// applyView is the state an apply batch evaluates commands against: the
// committed DB plus every write made earlier in the same batch, since a
// round may carry several commands on one key (a CAS after a put) and each
// must see the ones before it, exactly as a replica that applied them in
// separate rounds would.
//
// Two implementations: overlayView (a plain pebble batch plus a map of the
// batch's writes, reads falling through to the DB) and indexedView (a
// pebble indexed batch, which reads through its own skiplist). The
// overlay is the default: BenchmarkKVApplyBatch measured it faster for
// put-only rounds, where the indexed batch pays to index every write that
// no one reads (see the report in kv_bench_test.go).
type applyView interface {
	// get returns key's current value (a copy the caller may keep).
	get(key []byte) (value []byte, found bool, err error)
	// set and del write user keys; value is kept by reference and must
	// not be modified afterwards.
	set(key, value []byte) error
	del(key []byte) error
	// batch returns the pebble batch to commit.
	batch() *pebble.Batch
}

// overlayEntry is the latest write of the batch to one key.
type overlayEntry struct {
	value   []byte
	deleted bool
}

type overlayView struct {
	db     *pebble.DB
	b      *pebble.Batch
	writes map[string]overlayEntry
	keyBuf []byte
}

func newOverlayView(db *pebble.DB) *overlayView {
	return &overlayView{db: db, b: db.NewBatch(), writes: map[string]overlayEntry{}}
}

func (v *overlayView) get(key []byte) ([]byte, bool, error) {
	if e, ok := v.writes[string(key)]; ok {
		return e.value, !e.deleted, nil
	}
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	return getCopy(v.db, v.keyBuf)
}

func (v *overlayView) set(key, value []byte) error {
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	if err := v.b.Set(v.keyBuf, value, nil); err != nil {
		return err
	}
	v.writes[string(key)] = overlayEntry{value: value}
	return nil
}

func (v *overlayView) del(key []byte) error {
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	if err := v.b.Delete(v.keyBuf, nil); err != nil {
		return err
	}
	v.writes[string(key)] = overlayEntry{deleted: true}
	return nil
}

func (v *overlayView) batch() *pebble.Batch { return v.b }

type indexedView struct {
	b      *pebble.Batch
	keyBuf []byte
}

func (v *indexedView) get(key []byte) ([]byte, bool, error) {
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	return getCopy(v.b, v.keyBuf)
}

func (v *indexedView) set(key, value []byte) error {
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	return v.b.Set(v.keyBuf, value, nil)
}

func (v *indexedView) del(key []byte) error {
	v.keyBuf = appendDataKey(v.keyBuf[:0], key)
	return v.b.Delete(v.keyBuf, nil)
}

func (v *indexedView) batch() *pebble.Batch { return v.b }

// getCopy reads pebble key k from r and returns a copy of its value
// (pebble's is valid only until the closer is closed). A found empty value
// is returned as a non-nil empty slice.
func getCopy(r pebble.Reader, k []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append(make([]byte, 0, len(v)), v...)
	return out, true, closer.Close()
}
