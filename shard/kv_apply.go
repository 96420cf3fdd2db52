package shard

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// kvApplyBatch is the KV's ApplyBatch: one pebble batch for all the shards
// of a round, holding both their data writes and their state keys.
//
// A failure to read or write pebble while applying is not a property of
// the command (another replica would not see it), so it yields no Result:
// the batch is poisoned, later Applies do nothing, and Commit returns the
// error, which the store must treat as fatal for the round.
type kvApplyBatch struct {
	kv   *KV
	view applyView
	// sysView is view's twin over the meta shard's key space (made on
	// first use; it writes to the same pebble batch).
	sysView applyView
	// states holds the SetState calls of this batch, published to the
	// KV's descriptor map after Commit; Apply consults it first so that a
	// descriptor set earlier in the round governs the later entries.
	states map[ShardID]ShardState
	// marks are the SetApplied calls of this batch, written as one
	// applied record at Commit.
	marks []appliedMark
	// last caches the descriptor of the shard of the previous Apply: a
	// round applies each shard's entries one after another.
	last struct {
		id ShardID
		d  Descriptor
		ok bool
	}
	err  error
	done bool
	// conds, ops and writes are scratch arrays reused by the batch's
	// Applies (decodeCommand, execute): nothing keeps them past an Apply.
	conds  []Cond
	ops    []Op
	writes []kvWrite
}

var (
	_ appliedRecorder   = (*kvApplyBatch)(nil)
	_ unansweredApplier = (*kvApplyBatch)(nil)
)

// NewApplyBatch starts the apply batch of one round.
func (kv *KV) NewApplyBatch() ApplyBatch {
	ab := &kvApplyBatch{kv: kv}
	if err := kv.enter(); err != nil {
		ab.err, ab.done = err, true
		return ab
	}
	defer kv.life.RUnlock()
	if kv.indexedApply {
		ab.view = &indexedView{b: kv.db.NewIndexedBatch(), prefix: kvDataPrefix}
	} else {
		ab.view = newOverlayView(kv.db, kv.db.NewBatch(), kvDataPrefix)
	}
	return ab
}

// Apply applies a normal entry's encoded Command to shard id and returns
// the encoded Result. Entries that carry no command (empty data, or a
// conf change, which the store applies itself) return nil.
func (ab *kvApplyBatch) Apply(id ShardID, e *raftpb.Entry) []byte {
	return ab.apply(id, e, true)
}

// applyUnanswered implements unansweredApplier.
func (ab *kvApplyBatch) applyUnanswered(id ShardID, e *raftpb.Entry) {
	ab.apply(id, e, false)
}

// apply is Apply; it encodes the result only if want is set.
func (ab *kvApplyBatch) apply(id ShardID, e *raftpb.Entry, want bool) []byte {
	if ab.err != nil || e.Type != raftpb.EntryNormal || len(e.Data) == 0 {
		return nil
	}
	d, ok := ab.desc(id)
	if !ok {
		ab.err = fmt.Errorf("%w: apply of entry %d to shard %d", ErrShardNotHosted, e.Index, id)
		return nil
	}
	// NB: cmd's keys and values alias e.Data, which the Raft log keeps
	// unmodified for longer than the batch (the view keeps them until
	// Commit).
	cmd, err := decodeCommand(e.Data, false, ab.conds, ab.ops)
	if err != nil {
		if !want {
			return nil
		}
		return EncodeResult(Result{Status: StatusBadCommand})
	}
	ab.keepScratch(&cmd)
	v := ab.viewOf(id)
	res, writes, err := execute(v, &d, &cmd, ab.writes)
	if cap(writes) > cap(ab.writes) {
		ab.writes = writes
	}
	if err == nil {
		err = ab.write(v, writes)
	}
	if err != nil {
		ab.err = fmt.Errorf("shard: apply entry %d of shard %d: %w", e.Index, id, err)
		return nil
	}
	if !want {
		return nil
	}
	return EncodeResult(res)
}

// keepScratch keeps the arrays cmd was decoded into when they outgrew
// the batch's scratch.
func (ab *kvApplyBatch) keepScratch(cmd *Command) {
	if cap(cmd.Conds) > cap(ab.conds) {
		ab.conds = cmd.Conds
	}
	if cap(cmd.Ops) > cap(ab.ops) {
		ab.ops = cmd.Ops
	}
}

// viewOf returns the view over shard id's key space.
func (ab *kvApplyBatch) viewOf(id ShardID) applyView {
	if keyspace(id) == kvDataPrefix {
		return ab.view
	}
	if ab.sysView == nil {
		b := ab.view.batch()
		if b.Indexed() {
			ab.sysView = &indexedView{b: b, prefix: kvSystemPrefix}
		} else {
			ab.sysView = newOverlayView(ab.kv.db, b, kvSystemPrefix)
		}
	}
	return ab.sysView
}

func (ab *kvApplyBatch) write(v applyView, writes []kvWrite) error {
	for _, w := range writes {
		var err error
		if w.del {
			err = v.del(w.key)
		} else {
			err = v.set(w.key, w.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (ab *kvApplyBatch) desc(id ShardID) (Descriptor, bool) {
	if ab.last.ok && ab.last.id == id {
		return ab.last.d, true
	}
	d, ok := ab.kv.desc(id)
	if st, set := ab.states[id]; set {
		d, ok = st.Desc, true
	}
	if ok {
		ab.last.id, ab.last.d, ab.last.ok = id, d, true
	}
	return d, ok
}

// SetState writes st under its shard's state key in this batch. It also
// creates a shard: the first SetState of a new shard's descriptor is what
// makes the KV host it.
func (ab *kvApplyBatch) SetState(st ShardState) {
	if ab.err != nil {
		return
	}
	if ab.states == nil {
		ab.states = map[ShardID]ShardState{}
	}
	ab.states[st.Desc.ID] = st
	ab.last.ok = false
	if err := ab.view.batch().Set(metaKey(st.Desc.ID), MarshalShardState(st), nil); err != nil {
		ab.err = fmt.Errorf("shard: set state of shard %d: %w", st.Desc.ID, err)
	}
}

// SetApplied records shard id's applied index and term after this
// batch's entries, when the rest of its state is unchanged: all such
// shards of the batch share one applied record (kv_applied.go), one
// pebble write instead of one per shard. The shard must have a state key.
func (ab *kvApplyBatch) SetApplied(id ShardID, applied raftpb.Index, term raftpb.Term) {
	ab.marks = append(ab.marks, appliedMark{id: id, applied: applied, term: term})
}

// Commit commits the batch without sync and then publishes the batch's
// descriptors to readers.
func (ab *kvApplyBatch) Commit() error {
	if ab.err != nil {
		return ab.err
	}
	if ab.done {
		return fmt.Errorf("shard: apply batch committed twice")
	}
	kv := ab.kv
	if err := kv.enter(); err != nil {
		return err
	}
	defer kv.life.RUnlock()
	kv.fold.RLock()
	defer kv.fold.RUnlock()
	if len(ab.marks) > 0 {
		rec := make([]byte, 0, len(ab.marks)*3*binary.MaxVarintLen32)
		for _, m := range ab.marks {
			rec = appendAppliedMark(rec, m)
		}
		if err := ab.view.batch().Set(appliedKey(kv.appliedSeq.Add(1)), rec, nil); err != nil {
			ab.err = fmt.Errorf("shard: write applied record: %w", err)
			return ab.err
		}
	}
	if err := ab.view.batch().Commit(pebble.NoSync); err != nil {
		ab.err = fmt.Errorf("shard: commit apply batch: %w", err)
		return ab.err
	}
	ab.done = true
	if len(ab.states) > 0 {
		kv.setDescs(ab.states)
	}
	return nil
}

// Close releases the batch; uncommitted writes are dropped.
func (ab *kvApplyBatch) Close() {
	if ab.view == nil {
		return
	}
	_ = ab.view.batch().Close()
	ab.view = nil
	if ab.err == nil {
		ab.err = fmt.Errorf("shard: apply batch closed")
	}
}
