package shard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Applied records.
//
// Every apply batch must carry the applied index of each shard it touches,
// so that after a crash the data and the applied index agree. Rewriting
// each shard's whole state key for that cost one memtable insert per shard
// per round, as many as the data writes themselves when rounds carry about
// one entry per shard (pebble's skiplist insert was the largest single
// cost of a loaded store). So a batch whose shards changed only their
// applied index writes ONE applied record instead: a key of its own
// (0x04 + sequence number) listing (shard, applied index, term) for all of
// them. The state key keeps the descriptor and membership and is rewritten
// only when they change.
//
// A shard's applied index is the larger of its state key's and of every
// record naming it (max is order-free, so two workers committing records
// in either order is fine). Records are folded into the state keys and
// deleted at every sync point and at Load, under kv.fold held exclusively,
// so they stay few. Records of a shard with no state key (deleted) are
// ignored; DeleteShard folds first, so a shard created again under the same
// ID never inherits an old record.
//
//	| applied record value                                           |
//	|----------------------------------------------------------------|
//	| repeated: uvarint shard ID, uvarint applied index, uvarint term |

// appliedMark is one shard's applied index and term in a record.
type appliedMark struct {
	id      ShardID
	applied raftpb.Index
	term    raftpb.Term
}

// appliedRecorder is implemented by apply batches that can record a
// shard's applied index without its whole ShardState (the KV's). The
// store calls SetApplied instead of SetState when only the applied index
// changed.
type appliedRecorder interface {
	SetApplied(id ShardID, applied raftpb.Index, term raftpb.Term)
}

func appendAppliedMark(buf []byte, m appliedMark) []byte {
	buf = binary.AppendUvarint(buf, uint64(m.id))
	buf = binary.AppendUvarint(buf, uint64(m.applied))
	return binary.AppendUvarint(buf, uint64(m.term))
}

// decodeAppliedRecord calls fn for each mark of a record's value.
func decodeAppliedRecord(k, v []byte, fn func(appliedMark)) error {
	if len(k) != kvMetaKeyLen {
		return fmt.Errorf("%w: applied record key %x has length %d", ErrBadShardState, k, len(k))
	}
	r := codecReader{b: v, sentinel: ErrBadShardState}
	for r.err == nil && len(r.b) > 0 {
		var m appliedMark
		m.id = ShardID(r.uvarint("shard"))
		m.applied = raftpb.Index(r.uvarint("applied"))
		m.term = raftpb.Term(r.uvarint("applied term"))
		if r.err == nil {
			fn(m)
		}
	}
	if err := r.finish(); err != nil {
		return fmt.Errorf("applied record %x: %w", k, err)
	}
	return nil
}

// initAppliedSeq sets the next record's sequence number past the records
// on disk.
func (kv *KV) initAppliedSeq() error {
	it, err := kv.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kvAppliedPrefix}, UpperBound: []byte{kvAppliedPrefix + 1}})
	if err != nil {
		return err
	}
	if it.Last() && len(it.Key()) == kvMetaKeyLen {
		kv.appliedSeq.Store(binary.BigEndian.Uint64(it.Key()[1:]))
	}
	return errors.Join(it.Error(), it.Close())
}

// foldApplied folds every applied record into the state keys and deletes
// the records, in one batch (no sync). The caller holds kv.fold
// exclusively (no apply batch commits meanwhile) and kv.life shared.
//
// NB: the records are read from the first sequence number after the last
// fold, and only those are deleted: deleted records stay in the memtable
// (and in tables, until compacted) under the range tombstone, and an
// iterator over the whole prefix would step over all of them at every
// fold, a cost growing with the store's uptime.
func (kv *KV) foldApplied() error {
	hi := kv.appliedSeq.Load() // every record up to hi is committed: commits hold kv.fold shared
	if hi == kv.foldedSeq {
		return nil
	}
	it, err := kv.db.NewIter(kv.unfoldedBounds())
	if err != nil {
		return fmt.Errorf("shard: fold applied records: %w", err)
	}
	marks := map[ShardID]appliedMark{}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		err = decodeAppliedRecord(it.Key(), it.Value(), func(m appliedMark) {
			if m.applied > marks[m.id].applied {
				marks[m.id] = m
			}
		})
	}
	if err := errors.Join(err, it.Error(), it.Close()); err != nil {
		return fmt.Errorf("shard: fold applied records: %w", err)
	}
	b := kv.db.NewBatch()
	defer b.Close()
	for id, m := range marks {
		raw, found, err := getCopy(kv.db, metaKey(id))
		if err != nil {
			return fmt.Errorf("shard: fold applied records: %w", err)
		}
		if !found {
			continue // deleted shard
		}
		st, err := decodeStateKey(metaKey(id), raw)
		if err != nil {
			return err
		}
		if m.applied > st.Applied {
			st.Applied, st.AppliedTerm = m.applied, m.term
			if err := b.Set(metaKey(id), MarshalShardState(st), nil); err != nil {
				return err
			}
		}
	}
	if err := b.DeleteRange(appliedKey(kv.foldedSeq+1), appliedKey(hi+1), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("shard: fold applied records: %w", err)
	}
	kv.foldedSeq = hi
	return nil
}

// unfoldedBounds are the iterator bounds of the records written since the
// last fold. The caller holds kv.fold.
func (kv *KV) unfoldedBounds() *pebble.IterOptions {
	return &pebble.IterOptions{LowerBound: appliedKey(kv.foldedSeq + 1), UpperBound: []byte{kvAppliedPrefix + 1}}
}

// recordedApplied returns the largest applied mark of shard id in the
// applied records not yet folded (found is false if there is none). The
// caller holds kv.fold shared and kv.life shared.
func (kv *KV) recordedApplied(id ShardID) (m appliedMark, found bool, err error) {
	it, err := kv.db.NewIter(kv.unfoldedBounds())
	if err != nil {
		return m, false, err
	}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		err = decodeAppliedRecord(it.Key(), it.Value(), func(x appliedMark) {
			if x.id == id && x.applied > m.applied {
				m, found = x, true
			}
		})
	}
	return m, found, errors.Join(err, it.Error(), it.Close())
}
