package shard

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// unansweredApplier is implemented by apply batches that can apply an
// entry without encoding its result, for entries no proposal here waits
// for: on a follower, every entry. (The result is a pure function of the
// entry and the state, so nothing else changes.)
type unansweredApplier interface {
	applyUnanswered(id ShardID, e *raftpb.Entry)
}

// finished is a proposal outcome held until the apply batch is committed,
// so that a client told "done" can read its own write.
type finished struct {
	p   *proposal
	res []byte
	err error
}

// apply applies committed entries of every group of the round in ONE
// state machine batch, committed without sync, together with each
// group's new applied index. With durableOnly it applies only the entries
// that were durable before this round (see readyItem.durableCommitted),
// so it can run while the round's own WAL write is being synced; the
// second call applies the rest.
func (w *worker) apply(rn *round, durableOnly bool) error {
	ab := w.s.sm.NewApplyBatch()
	defer ab.Close()
	rec, _ := ab.(appliedRecorder)
	unanswered, _ := ab.(unansweredApplier)
	var done []finished
	var created []createdShard
	dirty := false
	for i := range rn.readies {
		it := &rn.readies[i]
		r := it.r
		changed := false
		limit := len(it.rd.CommittedEntries)
		if durableOnly {
			limit = it.durableCommitted()
		} else if snap := it.rd.Snapshot; snap != nil {
			// The image is already in the state machine (Install); only
			// the in-memory state catches up.
			r.restoreState(snap)
		}
		for ; it.applied < limit; it.applied++ {
			e := &it.rd.CommittedEntries[it.applied]
			if e.Index <= r.applied {
				continue // already in the state machine (replay after restart, or a snapshot)
			}
			var res []byte
			switch e.Type {
			case raftpb.EntryNormal:
				switch {
				case len(e.Data) == 0:
				case unanswered != nil && r.pending[e.Index] == nil:
					unanswered.applyUnanswered(r.id, e)
				default:
					res = ab.Apply(r.id, e)
				}
			case raftpb.EntryConfChange:
				r.applyConfChange(e)
			case raftpb.EntryStore:
				var right *ShardState
				if res, right = w.applyStore(ab, r, e); right != nil {
					created = append(created, createdShard{st: *right, campaign: r.g.Leader() == w.s.opts.NodeID, parent: r})
				}
			}
			r.applied, r.appliedTerm = e.Index, e.Term
			changed = true
			w.s.m.applied.Add(1)
			// The entry committed at this index decides every proposal
			// made at it: the one with its term succeeded, the others
			// can never commit.
			for p := r.pending[e.Index]; p != nil; p = p.next {
				if p.term == e.Term {
					done = append(done, finished{p: p, res: res})
				} else {
					done = append(done, finished{p: p, err: ErrProposalDropped})
				}
			}
			delete(r.pending, e.Index)
		}
		if changed {
			if rec != nil && !r.stateChanged {
				rec.SetApplied(r.id, r.applied, r.appliedTerm)
			} else {
				ab.SetState(r.shardState())
				r.stateChanged = false
			}
			dirty = true
		}
	}
	if dirty {
		if err := ab.Commit(); err != nil {
			return fmt.Errorf("shard: committing apply batch: %w", err)
		}
		w.s.m.applyBatches.Add(1)
		// NB: published only after Commit: the syncer treats an applied
		// index it reads before a sync point as durable after it, and
		// truncates the log up to it.
		for i := range rn.readies {
			r := rn.readies[i].r
			r.appliedIdx.Store(uint64(r.applied))
		}
		w.createSplit(created)
	}
	for _, f := range done {
		f.p.finish(f.res, f.err)
	}
	return nil
}

// createdShard is a shard a split created in this round's apply batch.
type createdShard struct {
	st       ShardState
	campaign bool // the parent's leader is here: start the election at once
	parent   *replica
}

// createSplit registers the replicas of the shards this round's splits
// created (their state is committed) and re-routes their parents.
func (w *worker) createSplit(created []createdShard) {
	for _, c := range created {
		w.s.routes.update(c.parent)
		c.parent.notifyDesc()
		if r := w.s.replica(c.st.Desc.ID); r != nil {
			// Recovered already (a replay after a restart), or created
			// uninitialized by the new group's leader, whose messages
			// came before this node applied the split: that replica
			// takes the split's state in its own round.
			if !r.descriptor().Initialized() {
				r.adopt(c.st)
			}
			continue
		}
		if _, err := w.s.addReplicaCampaign(c.st, c.campaign); err != nil {
			w.s.fail(fmt.Errorf("shard: creating split shard %d: %w", c.st.Desc.ID, err))
			return
		}
	}
}

// applyConfChange updates the persisted membership the same way the Raft
// core does (raftgroup.ApplyConfChange); an invalid change is a no-op on
// every replica.
func (r *replica) applyConfChange(e *raftpb.Entry) {
	cc, err := raftpb.UnmarshalConfChange(e.Data)
	if err != nil {
		return
	}
	cs, err := raftgroup.ApplyConfChange(*r.confState(), cc)
	if err != nil {
		return
	}
	d := *r.descriptor()
	d.Epoch++
	r.publish(d, cs)
	r.stateChanged = true
	// (A later change in the same batch may add this node back: then
	// it stays.)
	r.removed = !isMember(&cs, r.store.opts.NodeID)
	r.notifyDesc()
}

func containsNode(ids []raftpb.NodeID, id raftpb.NodeID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// answer serves the round's confirmed reads and fails dropped ones.
func (w *worker) answer(r *replica, rd *raftgroup.Ready) {
	for _, rs := range rd.ReadStates {
		q := r.reads[rs.ID]
		if q == nil {
			continue
		}
		delete(r.reads, rs.ID)
		q.index = rs.Index
		if r.applied >= q.index {
			q.finish(nil)
		} else {
			r.readsToApply = append(r.readsToApply, q)
		}
	}
	if len(r.readsToApply) > 0 {
		keep := r.readsToApply[:0]
		for _, q := range r.readsToApply {
			if r.applied >= q.index {
				q.finish(nil)
			} else {
				keep = append(keep, q)
			}
		}
		clear(r.readsToApply[len(keep):])
		r.readsToApply = keep
	}
	for _, id := range rd.DroppedReads {
		if q := r.reads[id]; q != nil {
			delete(r.reads, id)
			q.finish(errNotLeaderHere(r))
		}
	}
}
