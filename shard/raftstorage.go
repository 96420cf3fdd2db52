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
type raftStorage struct {
	w *wal.WAL
	r *replica
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
	if applied := s.r.state.Applied; applied > hs.Commit && applied <= s.w.LastIndex(s.r.id) {
		hs.Commit = applied
	}
	return hs, s.r.state.ConfState, nil
}

// Entries implements raftgroup.Storage.
func (s *raftStorage) Entries(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	ents, err := s.w.Entries(s.r.id, lo, hi, maxBytes)
	return ents, walErr(err)
}

// Term implements raftgroup.Storage.
func (s *raftStorage) Term(i raftpb.Index) (raftpb.Term, error) {
	t, err := s.w.Term(s.r.id, i)
	return t, walErr(err)
}

// FirstIndex implements raftgroup.Storage.
func (s *raftStorage) FirstIndex() (raftpb.Index, error) { return s.w.FirstIndex(s.r.id), nil }

// LastIndex implements raftgroup.Storage.
func (s *raftStorage) LastIndex() (raftpb.Index, error) { return s.w.LastIndex(s.r.id), nil }

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
