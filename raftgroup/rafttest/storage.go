package rafttest

import (
	"math/rand/v2"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// hostStorage is the Storage a simulated replica reads: its MemoryStorage,
// except that asking for a snapshot often builds a fresh one from the
// state machine, as a real store does (a leader's stored snapshot may
// predate the member it must catch up, which would then refuse it, so
// only sending the stored one would never catch that member up). Now and
// then the snapshot is not ready yet, so the core's retry path runs too.
type hostStorage struct {
	*raftgroup.MemoryStorage
	n   *node
	rng *rand.Rand
}

// Snapshot implements raftgroup.Storage.
func (h hostStorage) Snapshot() (raftpb.Snapshot, error) {
	if h.rng.IntN(5) == 0 {
		return raftpb.Snapshot{}, raftgroup.ErrSnapshotTemporarilyUnavailable
	}
	snap, err := h.MemoryStorage.Snapshot()
	if err != nil || h.rng.IntN(2) == 0 {
		return snap, err // the stored one, as a plain MemoryStorage user would send
	}
	// Building a snapshot makes the state machine durable first, as a
	// checkpoint of the applied state would.
	h.n.sm.sync()
	if d := h.n.sm.durable; d.applied > snap.Metadata.Index {
		if err := h.MemoryStorage.CreateSnapshot(d.applied, d.cs, encodeKV(d.kv)); err != nil {
			return snap, err
		}
	}
	return h.MemoryStorage.Snapshot()
}
