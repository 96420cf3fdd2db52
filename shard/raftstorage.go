package shard

import (
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/wal"
)

// raftStorage is one replica's raftgroup.Storage: its log and hard state
// in the node's shared WAL, its membership and snapshots from the state
// machine. It is used only by the worker that owns the replica's round.
//
// The Raft core asks for FirstIndex and LastIndex many times per round;
// each WAL lookup takes the WAL's index lock and a map lookup (4-7% of a
// loaded store's CPU), so the storage keeps its own copy of both. Only
// this replica's rounds change them (appends and compactions go through
// the round's WAL batch, visible once the batch is durable), so the copy
// is refreshed once per round that wrote to the log, after the wait.
type raftStorage struct {
	w *wal.WAL
	r *replica
	// first and last are the WAL's FirstIndex and LastIndex of the group.
	// Invariant: equal to the WAL's whenever the Raft core runs (between
	// a round's Submit and the end of its wait they may lag the WAL's,
	// and the core is not called then).
	first, last raftpb.Index
	// wrote: the current round's WAL batch changes the group's log.
	wrote bool
	// tail is a copy of the newest entries this replica's rounds wrote to
	// the WAL (tailcache.go).
	// Invariant: empty, or contiguous and ending at last, with
	// tail[0].Index >= first.
	tail []raftpb.Entry
	// tailBytes is the summed Data length of tail.
	tailBytes int
}

// newRaftStorage returns r's storage with its indexes read from the WAL.
func newRaftStorage(w *wal.WAL, r *replica) *raftStorage {
	s := &raftStorage{w: w, r: r}
	s.refresh()
	return s
}

// refresh rereads the log's bounds from the WAL.
func (s *raftStorage) refresh() {
	st, _ := s.w.GroupState(s.r.id)
	s.first, s.last, s.wrote = st.FirstIndex, st.LastIndex, false
	s.fitTail()
}

var _ raftgroup.Storage = (*raftStorage)(nil)

// walErr maps the WAL's range errors onto the ones the Raft core knows.
func walErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wal.ErrCompacted):
		return fmt.Errorf("%w: %w", raftgroup.ErrCompacted, err)
	case errors.Is(err, wal.ErrUnavailable), errors.Is(err, wal.ErrUnknownGroup):
		return fmt.Errorf("%w: %w", raftgroup.ErrUnavailable, err)
	}
	return err
}

// InitialState implements raftgroup.Storage.
//
// NB: the commit index is raised to the state machine's applied index
// when the WAL's is lower. Commit-only hard states are not written on
// their own (hardstate.go), so after a crash or a clean stop the state
// machine may have applied entries past the commit index in the WAL;
// they were committed, and they are in the WAL, synced before they could
// commit.
func (s *raftStorage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	hs := s.w.HardState(s.r.id)
	if applied := s.r.applied; applied > hs.Commit && applied <= s.last {
		hs.Commit = applied
	}
	return hs, *s.r.confState(), nil
}

// Entries implements raftgroup.Storage.
func (s *raftStorage) Entries(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	if ents, ok := s.tailEntries(lo, hi, maxBytes); ok {
		return ents, nil
	}
	ents, err := s.w.Entries(s.r.id, lo, hi, maxBytes)
	return ents, walErr(err)
}

// Term implements raftgroup.Storage.
func (s *raftStorage) Term(i raftpb.Index) (raftpb.Term, error) {
	if t, ok := s.tailTerm(i); ok {
		return t, nil
	}
	t, err := s.w.Term(s.r.id, i)
	return t, walErr(err)
}

// FirstIndex implements raftgroup.Storage.
func (s *raftStorage) FirstIndex() (raftpb.Index, error) { return s.first, nil }

// LastIndex implements raftgroup.Storage.
func (s *raftStorage) LastIndex() (raftpb.Index, error) { return s.last, nil }

// Snapshot implements raftgroup.Storage: it captures the state machine's
// image of the shard at its applied index and parks the image's source on
// the replica, where the round that sends the MsgSnap picks it up. The
// image travels on the transport's snapshot path; the snapshot's Data
// holds only the shard's encoded ShardState.
func (s *raftStorage) Snapshot() (raftpb.Snapshot, error) {
	st, src, err := s.r.store.sm.Snapshot(s.r.id)
	if err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("%w: %w", raftgroup.ErrSnapshotTemporarilyUnavailable, err)
	}
	if st.Applied == 0 {
		_ = src.Close()
		return raftpb.Snapshot{}, raftgroup.ErrSnapshotTemporarilyUnavailable
	}
	snap := raftpb.Snapshot{
		Metadata: raftpb.SnapshotMetadata{Index: st.Applied, Term: st.AppliedTerm, ConfState: st.ConfState},
		// The shard's state travels with the MsgSnap so the receiver
		// learns the descriptor before it reads the image.
		Data: MarshalShardState(st),
	}
	s.r.outSnaps = append(s.r.outSnaps, outSnap{index: st.Applied, src: src})
	return snap, nil
}
