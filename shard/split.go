package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Store commands: entries of type raftpb.EntryStore, which the store
// applies itself instead of handing them to the state machine. The only
// one is the split.
//
//	| field    | encoding                          |
//	|----------|-----------------------------------|
//	| version  | 1 byte (1)                        |
//	| op       | 1 byte (storeOpSplit)             |
//	| epoch    | uvarint: the descriptor's epoch   |
//	| new ID   | uvarint: the right-hand shard's ID|
//	| key      | uvarint length, bytes             |
const (
	storeCmdVersion = 1
	storeOpSplit    = 1
)

// splitCmd splits a shard at Key: the shard keeps [Start, Key) and a new
// shard NewID, with the same replicas, takes [Key, End). It applies only
// if the shard's epoch is still Epoch, Key lies strictly inside the range,
// and the group is not in a joint configuration; these are replicated
// facts, so every replica decides the same.
type splitCmd struct {
	Epoch uint64
	NewID ShardID
	Key   []byte
}

func (c splitCmd) marshal() []byte {
	b := []byte{storeCmdVersion, storeOpSplit}
	b = binary.AppendUvarint(b, c.Epoch)
	b = binary.AppendUvarint(b, uint64(c.NewID))
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	return append(b, c.Key...)
}

func unmarshalSplit(b []byte) (splitCmd, error) {
	var c splitCmd
	bad := errors.New("shard: malformed store command")
	if len(b) < 2 || b[0] != storeCmdVersion || b[1] != storeOpSplit {
		return c, bad
	}
	b = b[2:]
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return c, bad
		}
		vals[i], b = v, b[k:]
	}
	if vals[2] != uint64(len(b)) {
		return c, bad
	}
	c.Epoch, c.NewID, c.Key = vals[0], ShardID(vals[1]), b
	return c, nil
}

// Outcomes of a store command, as its proposer receives them.
func storeOK() []byte { return []byte{0} }

func storeRefused(format string, args ...any) []byte {
	return append([]byte{1}, fmt.Sprintf(format, args...)...)
}

func storeResult(res []byte) error {
	if len(res) == 0 || res[0] == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrSplitRefused, res[1:])
}

// ErrSplitRefused: the split was not applied (stale epoch, key outside
// the range or at its start, a membership change in progress, or a
// shard that is not split here).
var ErrSplitRefused = errors.New("shard: split refused")

// applyStore applies a store command of shard r in the round's apply batch
// and returns the proposer's outcome. A split also returns the state of
// the new right-hand shard, whose replica the round creates once the batch
// is committed.
func (w *worker) applyStore(ab ApplyBatch, r *replica, e *raftpb.Entry) ([]byte, *ShardState) {
	c, err := unmarshalSplit(e.Data)
	if err != nil {
		return storeRefused("%v", err), nil
	}
	d := *r.descriptor()
	cs := *r.confState()
	switch {
	case r.id == MetaShardID:
		return storeRefused("the meta shard is never split"), nil
	case c.Epoch != d.Epoch:
		return storeRefused("shard %d is at epoch %d, not %d", r.id, d.Epoch, c.Epoch), nil
	case bytes.Compare(c.Key, d.Start) <= 0 || !d.Contains(c.Key):
		return storeRefused("key %q is not strictly inside %v", c.Key, d), nil
	case len(cs.VotersOutgoing) > 0:
		return storeRefused("shard %d is changing membership", r.id), nil
	case c.NewID == MetaShardID || c.NewID == r.id:
		return storeRefused("bad new shard ID %d", c.NewID), nil
	}
	if !isMember(&cs, w.s.opts.NodeID) {
		// This node left the shard before the split: a stale replica
		// added back as a learner replays the log past its removal. The
		// left half narrows as everywhere, but the right half's replicas
		// are the shard's members at the split, and this node is none:
		// a replica of it here would never hear from a leader (regression:
		// found by TestNetnsPlacementLinearizable, seed
		// 1796589464542924551, as a node unready for good).
		d.End = bytes.Clone(c.Key)
		d.Epoch++
		r.publish(d, cs)
		r.stateChanged = true
		ab.SetState(r.shardState())
		w.s.m.splits.Add(1)
		return storeOK(), nil
	}
	right := ShardState{
		Desc:    Descriptor{ID: c.NewID, Start: bytes.Clone(c.Key), End: d.End, Replicas: d.Replicas, Epoch: 1},
		Applied: 1, AppliedTerm: 1,
		ConfState: cs.Clone(),
	}
	// The new group's log starts like a bootstrapped one: a snapshot mark
	// at index 1 term 1, written (and synced) before the state machine
	// batch that creates the shard. If the new group's leader has already
	// made an uninitialized replica of it here, that replica's own round
	// writes the mark when it takes the split's state (takeAdoption): its
	// Raft group must not see its log change under it.
	if rr := w.s.replica(c.NewID); rr == nil {
		if err := w.s.ensureLogStart(c.NewID); err != nil {
			w.s.fail(fmt.Errorf("shard: starting the log of split shard %d: %w", c.NewID, err))
			return storeRefused("log write failed"), nil
		}
	}
	d.End = right.Desc.Start
	d.Epoch++
	r.publish(d, cs)
	r.stateChanged = true
	// Both states now, so that later entries of this batch see the new
	// ranges (a write for the right half must not land in the left).
	ab.SetState(r.shardState())
	ab.SetState(right)
	w.s.m.splits.Add(1)
	return storeOK(), &right
}

// ensureLogStart gives shard id's log the start of a new group (a snapshot
// mark at index 1 term 1) if it has no log yet. It never writes over a log
// the group already has (a replay after a crash that lost the unsynced
// apply batch, but not the new group's own entries and votes), and keeps
// the term and vote of a replica that had them.
func (s *Store) ensureLogStart(id ShardID) error {
	if s.wal.LastIndex(id) != 0 {
		return nil
	}
	hs := s.wal.HardState(id)
	hs.Term, hs.Commit = max(hs.Term, 1), max(hs.Commit, 1)
	wb := s.wal.NewBatch()
	wb.Compact(id, 1, 1)
	wb.SetHardState(id, hs)
	return s.wal.Commit(context.Background(), wb)
}
