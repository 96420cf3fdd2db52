package shard

import (
	"context"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Replica lifecycle beyond bootstrap and recovery: a replica is created
// empty (uninitialized) when this node is added to a shard's group, gets
// its data from the leader's snapshot, and is destroyed when an applied
// membership change leaves this node out.
//
// Creation: a leader's message (append, heartbeat, snapshot) for a shard
// this node does not host creates an uninitialized replica: no range, no
// membership, Applied 0. It takes no client requests and is not routed
// to; it answers the leader's append with a rejection, which makes the
// leader send a snapshot; installing it gives the replica its descriptor
// and membership. A vote request never creates a replica (a node that is
// not a member has no vote to give).
//
// Destruction: when an applied conf change leaves this node out, the
// replica is marked removed; the round sends its last Ready (a leader that
// removed itself hands leadership over in it) and then destroys it:
// client requests on it fail with ErrShardMoved, its state machine data
// is deleted (durably, first: so a crash never brings back a replica
// whose log is gone) and then its log. The shard is tombstoned for the
// life of the process, so a late message from a stale leader cannot
// re-create it; PrepareReplica clears the tombstone when placement adds
// the node back on purpose.

// Votes: an uninitialized replica (created empty by PrepareReplica or by
// a leader's message, waiting for its snapshot or its split) answers no
// vote request. Its node may have been a member before, removed (its log
// deleted with the replica) and added back as a learner: a stale member
// whose old configuration still lists the node would win an election
// with the empty replica's vote, which knows nothing of what the previous
// incarnation acknowledged, and commit entries of its own at indexes the
// shard had already committed (found by TestNetnsPlacementLinearizable:
// two leaders of one shard, acknowledged writes lost). Placement adds
// every replica as a learner and promotes it only once it holds the
// shard, and a split's replicas are initialized when they apply it, so
// no configuration waits on an uninitialized replica's vote for long.

// isVoteRequest reports whether t asks for a vote (or a pre-vote).
func isVoteRequest(t raftpb.MessageType) bool {
	return t == raftpb.MsgVote || t == raftpb.MsgPreVote
}

// createsReplica reports whether a message of this type for an unknown
// shard creates an uninitialized replica.
func createsReplica(t raftpb.MessageType) bool {
	switch t {
	case raftpb.MsgApp, raftpb.MsgHeartbeat, raftpb.MsgSnap:
		return true
	}
	return false
}

// replicaFor returns the replica of shard id, creating an uninitialized
// one when create is set and the shard is not tombstoned.
func (s *Store) replicaFor(id ShardID, create bool) *replica {
	if r := s.replica(id); r != nil || !create {
		return r
	}
	s.mu.RLock()
	_, dead := s.mu.tombstones[id]
	s.mu.RUnlock()
	if dead || s.closed.Load() || s.wal.LastIndex(id) != 0 {
		// (A log without a replica: a split applied here is creating the
		// shard right now; its replica appears with its state.)
		return nil
	}
	r, err := s.addReplica(ShardState{Desc: Descriptor{ID: id}})
	if err != nil {
		s.opts.Logger.Warn("shard: cannot create replica", "shard", id, "err", err)
		return nil
	}
	s.m.replicasCreated.Add(1)
	return r
}

// PrepareReplica makes this node ready to receive a replica of shard id
// that placement is about to add: it clears the shard's tombstone and
// creates the uninitialized replica. Calling it for a shard already
// hosted does nothing.
func (s *Store) PrepareReplica(id ShardID) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.mu.tombstones, id)
	s.mu.Unlock()
	if s.replica(id) == nil && s.wal.LastIndex(id) != 0 {
		// A log without a replica is what a replica that left this node
		// can leave behind; the shard is coming back from its leader's
		// snapshot, so the old log is of no use and would make the new
		// replica's log start where the old one ended.
		wb := s.wal.NewBatch()
		wb.Remove(id)
		if err := s.wal.Commit(s.ctx, wb); err != nil {
			return fmt.Errorf("shard: clearing shard %d's old log: %w", id, err)
		}
	}
	if s.replicaFor(id, true) == nil {
		return fmt.Errorf("shard: cannot prepare a replica of shard %d", id)
	}
	return nil
}

// isMember reports whether node is in cs in any role.
func isMember(cs *raftpb.ConfState, node raftpb.NodeID) bool {
	for _, l := range [][]raftpb.NodeID{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		if containsNode(l, node) {
			return true
		}
	}
	return false
}

// destroy removes r from this node (see the top of this file). It runs in
// r's round, which owns r.
func (w *worker) destroy(r *replica) {
	s := w.s
	s.mu.Lock()
	if s.mu.replicas[r.id] == r {
		delete(s.mu.replicas, r.id)
	}
	if s.mu.tombstones == nil {
		s.mu.tombstones = make(map[ShardID]struct{})
	}
	s.mu.tombstones[r.id] = struct{}{}
	s.mu.Unlock()
	s.routes.remove(r)
	r.gone = true
	// NB: the round persists after this (destroy runs before it), and
	// would write a pending commit-only hard state (hardstate.go) for the
	// group after its log's removal: a hard state whose commit is beyond
	// an empty log, which kept the shard from ever being created on this
	// node again.
	r.hasUnwrittenHS = false
	r.mu.Lock()
	r.mu.destroyed = true
	r.mu.Unlock()
	r.notifyDesc()
	r.setAwake(false)
	moved := fmt.Errorf("%w: shard %d left node %d", ErrShardMoved, r.id, s.opts.NodeID)
	// A write already in the log may still commit in the group this node
	// left: its outcome is unknown, never "moved" (which promises it was
	// not applied and may be retried).
	r.failAll(fmt.Errorf("%w: shard %d's replica left node %d before the write's outcome was known", ErrTimeout, r.id, s.opts.NodeID), moved)
	r.closeOutSnaps()
	ctx := s.ctx
	if err := s.sm.DeleteShard(ctx, r.id); err != nil {
		s.fail(fmt.Errorf("shard: deleting shard %d's data: %w", r.id, err))
		return
	}
	wb := s.wal.NewBatch()
	wb.Remove(r.id)
	if err := s.wal.Commit(context.Background(), wb); err != nil {
		s.fail(fmt.Errorf("shard: removing shard %d's log: %w", r.id, err))
		return
	}
	s.m.replicasRemoved.Add(1)
	s.opts.Logger.Info("shard: replica removed", "shard", r.id, "node", s.opts.NodeID)
}

// adopt hands an uninitialized replica the state a split created for its
// shard on this node; its round takes it (adoptState).
func (r *replica) adopt(st ShardState) {
	r.mu.Lock()
	r.mu.adopt = &st
	r.mu.Unlock()
	r.store.sched.enqueue(r)
}

// takeAdoption, in r's round, makes an uninitialized replica the one the
// split created: its state, and a Raft group rebuilt over the log the split
// started (the group's own term and vote kept). A replica that got
// initialized meanwhile (by a snapshot) keeps what it has.
func (w *worker) takeAdoption(r *replica, st *ShardState) {
	if r.applied != 0 || r.frozen != nil {
		return
	}
	if err := w.s.ensureLogStart(r.id); err != nil {
		w.s.fail(fmt.Errorf("shard: starting the log of split shard %d: %w", r.id, err))
		return
	}
	r.applied, r.appliedTerm = st.Applied, st.AppliedTerm
	r.publish(st.Desc, st.ConfState)
	r.storage.refresh() // the log start was just written
	g, err := w.s.newGroup(r)
	if err != nil {
		w.s.fail(err)
		return
	}
	r.g = g
	r.appliedIdx.Store(uint64(st.Applied))
	r.durableIdx.Store(uint64(st.Applied))
	w.s.routes.update(r)
	r.notifyDesc()
}
