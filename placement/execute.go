package placement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// ErrMoveInFlight: another move of the same shard is in flight (recorded
// in the meta shard); nothing was started.
var ErrMoveInFlight = errors.New("placement: a move of this shard is already in flight")

// execute carries out one move. Membership moves are recorded in the
// meta shard for their whole life (the record is the shard's lock:
// created only if absent), and every step is decided from the shard's
// current membership as its leader reports it, so running the same move
// again after a crash of any node, the driver's included, picks up where
// it stopped:
//
//  1. the target is not a member: prepare it, add it as a learner;
//  2. the learner lags: wait (a snapshot catches it up), or roll it back
//     after CatchUpTimeout;
//  3. the learner has caught up: if the source leads, hand leadership to
//     another voter; then one conf change promotes the target and removes
//     the source (joint consensus when both change), which the leader
//     leaves by itself;
//  4. the target is a voter and the source is gone: done. The source's
//     replica deletes its data when it applies its removal.
//
// The shard never has fewer voters than before: the source leaves in the
// same change that promotes the target.
func (n *Node) execute(ctx context.Context, m *Move, resumed bool, stage func(string)) error {
	st := n.store
	switch m.Kind {
	case MoveTransfer:
		stage("transfer")
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return st.TransferLeader(tctx, m.Shard, m.To)
	case MoveSplit:
		return n.split(ctx, m, resumed, stage)
	}
	if !resumed {
		if err := n.recordMove(ctx, m); err != nil {
			return err
		}
	}
	err := n.membership(ctx, m, stage)
	// The record goes whether the move finished or gave up (the next
	// driver pass plans again from what the replicas report), if it is
	// still this move's (movelock.go).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, n.releaseMove(dctx, m))
}

// isVoter reports whether id is a voter of the (incoming) configuration.
func isVoter(cs *raftpb.ConfState, id raftpb.NodeID) bool { return slices.Contains(cs.Voters, id) }

func isLearner(cs *raftpb.ConfState, id raftpb.NodeID) bool {
	return slices.Contains(cs.Learners, id) || slices.Contains(cs.LearnersNext, id)
}

func isMember(cs *raftpb.ConfState, id raftpb.NodeID) bool {
	return slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id) || isLearner(cs, id)
}

// hostedFor is how long a learner's node must keep reporting the replica
// before it is promoted (see membership).
const hostedFor = 250 * time.Millisecond

// catchUpSlack is how far behind the leader's commit index a learner may
// be and still count as caught up: close enough that its promotion does
// not stall the new configuration's quorum for long.
const catchUpSlack = 128

// membership runs the steps of an add, replace or remove move.
func (n *Node) membership(ctx context.Context, m *Move, stage func(string)) error {
	st := n.store
	var learnerSince, hostedSince time.Time
	var col collector
	f := fence{n: n, m: m}
	deadline := time.Now().Add(n.opts.CatchUpTimeout + time.Minute)
	for attempt := 0; ; attempt++ {
		if f.lost {
			return n.superseded(ctx, m, stage)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("placement: move of shard %d did not finish in time", m.Shard)
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(time.Duration(attempt)*20*time.Millisecond, 250*time.Millisecond)):
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p, err := st.ShardProgress(pctx, m.Shard)
		cancel()
		if err != nil {
			continue // no leader right now, or a stale route: ask again
		}
		if p.Joint {
			stage("joint")
			continue // the leader leaves the joint configuration by itself
		}
		cs := &p.Conf
		from, to := m.From, m.To
		// Every action comes after p was read and after the fence check,
		// and a change names p's epoch (movelock.go).
		change := func(changes ...raftpb.ConfChangeSingle) error {
			if err := f.mayAct(ctx); err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := st.ChangeReplicas(cctx, m.Shard, p.Desc.Epoch, changes)
			return err
		}
		// The source must not lead when it is removed.
		awayFrom := func(node raftpb.NodeID) bool {
			if p.Leader != node {
				return false
			}
			for _, v := range cs.Voters {
				if v != node && v != to {
					if f.mayAct(ctx) != nil {
						return true
					}
					tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_ = st.TransferLeader(tctx, m.Shard, v)
					cancel()
					return true
				}
			}
			return false
		}
		switch m.Kind {
		case MoveCollect:
			done, err := col.step(ctx, n, m, &p, change, stage)
			if done || err != nil {
				return err
			}
		case MoveRemove:
			if reached(m, cs) {
				stage("done")
				return nil
			}
			if awayFrom(from) {
				continue
			}
			stage("remove")
			_ = change(raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: from})
		case MoveAdd, MoveReplace:
			switch {
			case reached(m, cs):
				stage("done")
				return nil
			case isVoter(cs, to):
				if awayFrom(from) {
					continue
				}
				stage("remove source")
				_ = change(raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: from})
			case !isMember(cs, to):
				stage("learner")
				if f.mayAct(ctx) != nil {
					continue
				}
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := st.PrepareReplicaOn(pctx, to, m.Shard)
				cancel()
				if err != nil {
					return fmt.Errorf("placement: preparing node %d for shard %d: %w", to, m.Shard, err)
				}
				_ = change(raftpb.ConfChangeSingle{Type: raftpb.AddLearner, Node: to})
			case isLearner(cs, to):
				if learnerSince.IsZero() {
					learnerSince = time.Now()
				}
				if p.Match[to]+catchUpSlack < p.Commit || p.Match[to] == 0 {
					stage("catch-up")
					if time.Since(learnerSince) > n.opts.CatchUpTimeout {
						_ = change(raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: to})
						return fmt.Errorf("placement: node %d did not catch up on shard %d in %v; learner removed", to, m.Shard, n.opts.CatchUpTimeout)
					}
					continue
				}
				hosted := n.learnerHosted(ctx, to, m.Shard, p.Desc.Epoch)
				if hosted != learnerHosted {
					hostedSince = time.Time{}
				} else if hostedSince.IsZero() || time.Since(hostedSince) < hostedFor {
					// NB: a stale replica that applied its old removal and
					// its new addition in one batch reports itself hosted
					// until its round destroys it a moment later (shard's
					// removal is not undone by a later re-addition): ask
					// again a little later.
					if hostedSince.IsZero() {
						hostedSince = time.Now()
					}
					hosted = learnerBehind
				}
				switch hosted {
				case learnerGone:
					// Its node dropped the replica: roll the learner back,
					// so that the next attempt starts an empty one.
					stage("learner gone")
					_ = change(raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: to})
					continue
				case learnerBehind:
					stage("catch-up")
					continue
				}
				if from != 0 && isMember(cs, from) {
					if awayFrom(from) {
						continue
					}
					stage("joint")
					_ = change(raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: to}, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: from})
				} else {
					stage("promote")
					_ = change(raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: to})
				}
			}
		default:
			return fmt.Errorf("placement: unknown move kind %v", m.Kind)
		}
	}
}

// reached reports whether cs is the membership an add, replace or remove
// move wants.
func reached(m *Move, cs *raftpb.ConfState) bool {
	switch m.Kind {
	case MoveRemove:
		return !isMember(cs, m.From)
	case MoveAdd, MoveReplace:
		return isVoter(cs, m.To) && (m.From == 0 || !isMember(cs, m.From))
	}
	return false
}

// fence lets a run of move m act only while m's record in the meta shard
// is its own (movelock.go).
type fence struct {
	n *Node
	m *Move
	// lost: the record was found removed or replaced.
	lost bool
}

// mayAct returns nil if the run may change the shard now, ErrMoveSuperseded
// (and sets lost) if it may not any more, or the error of a meta shard
// that did not answer (ask again later). Call it after reading the
// progress the action rests on.
func (f *fence) mayAct(ctx context.Context) error {
	owned, err := f.n.ownsMove(ctx, f.m)
	switch {
	case err != nil:
		return err
	case !owned:
		f.lost = true
		return ErrMoveSuperseded
	}
	return nil
}

// superseded ends a run of m whose record was removed or replaced: it
// succeeded if the shard's membership is what m wanted (the usual case:
// another run of m finished it and removed the record), else it stops
// with ErrMoveSuperseded and leaves the shard to whatever holds it now.
func (n *Node) superseded(ctx context.Context, m *Move, stage func(string)) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	p, err := n.store.ShardProgress(pctx, m.Shard)
	cancel()
	if err == nil && !p.Joint && reached(m, &p.Conf) {
		stage("done")
		return nil
	}
	stage("superseded")
	return fmt.Errorf("%w (move of shard %d from %d to %d)", ErrMoveSuperseded, m.Shard, m.From, m.To)
}

// Whether a learner's node hosts the shard, as its own report says.
const (
	learnerHosted = iota
	learnerBehind // at an older epoch, or the node did not answer
	learnerGone
)

// learnerHosted checks that node hosts shard id at epoch (the one that
// made it a learner) or later. The leader's match index alone does not
// show it: a node that held an older replica of the shard (removed while
// the node was down, then restarted) catches up on its old log, counts
// as caught up, then applies its own old removal and deletes the
// replica. Promoted, it would be a voter with no replica behind it.
func (n *Node) learnerHosted(ctx context.Context, node raftpb.NodeID, id shard.ShardID, epoch uint64) int {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rs, err := n.store.Report(rctx, node, false)
	if err != nil {
		return learnerBehind
	}
	for _, r := range rs {
		if r.Desc.ID == id {
			if r.Desc.Epoch >= epoch {
				return learnerHosted
			}
			return learnerBehind
		}
	}
	return learnerGone
}
