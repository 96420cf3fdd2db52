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

// membership runs the steps of an add, replace or remove move: it polls
// the shard's progress at its leader and takes the step that progress
// calls for, until the move is done, fails or is superseded.
func (n *Node) membership(ctx context.Context, m *Move, stage func(string)) error {
	run := &memberRun{n: n, m: m, stage: stage, f: fence{n: n, m: m}}
	deadline := time.Now().Add(n.opts.CatchUpTimeout + time.Minute)
	for attempt := 0; ; attempt++ {
		if run.f.lost {
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
		p, err := n.store.ShardProgress(pctx, m.Shard)
		cancel()
		if err != nil {
			continue // no leader right now, or a stale route: ask again
		}
		if p.Joint {
			stage("joint")
			continue // the leader leaves the joint configuration by itself
		}
		run.p = &p
		if done, err := run.step(ctx); done || err != nil {
			return err
		}
	}
}

// memberRun is the state of one membership run across its polls. Every
// action comes after p was read and after the fence check, and a change
// names p's epoch (movelock.go).
type memberRun struct {
	n     *Node
	m     *Move
	stage func(string)
	f     fence
	col   collector
	// learnerSince is when the target was first seen a learner;
	// hostedSince when its node first reported the replica hosted.
	learnerSince, hostedSince time.Time
	// p is the progress of the latest poll.
	p *shard.Progress
}

// step takes the step the latest progress calls for; done reports that
// the run is over (with err, or nil when the move finished).
func (r *memberRun) step(ctx context.Context) (done bool, err error) {
	m, cs := r.m, &r.p.Conf
	switch m.Kind {
	case MoveCollect:
		return r.col.step(ctx, r.n, m, r.p, func(c ...raftpb.ConfChangeSingle) error { return r.change(ctx, c...) }, r.stage)
	case MoveRemove:
		if reached(m, cs) {
			r.stage("done")
			return true, nil
		}
		if r.awayFrom(ctx, m.From) {
			return false, nil
		}
		r.stage("remove")
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: m.From})
		return false, nil
	case MoveAdd, MoveReplace:
		return r.stepAdd(ctx)
	}
	return true, fmt.Errorf("placement: unknown move kind %v", m.Kind)
}

// stepAdd takes one step of an add or replace move.
func (r *memberRun) stepAdd(ctx context.Context) (done bool, err error) {
	m, cs := r.m, &r.p.Conf
	switch {
	case reached(m, cs):
		r.stage("done")
		return true, nil
	case isVoter(cs, m.To):
		if r.awayFrom(ctx, m.From) {
			return false, nil
		}
		r.stage("remove source")
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: m.From})
	case !isMember(cs, m.To):
		r.stage("learner")
		if r.f.mayAct(ctx) != nil {
			return false, nil
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := r.n.store.PrepareReplicaOn(pctx, m.To, m.Shard)
		cancel()
		if err != nil {
			return true, fmt.Errorf("placement: preparing node %d for shard %d: %w", m.To, m.Shard, err)
		}
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.AddLearner, Node: m.To})
	case isLearner(cs, m.To):
		return r.stepLearner(ctx)
	}
	return false, nil
}

// stepLearner waits for the target learner to catch up (rolling it back
// after CatchUpTimeout, or if its node dropped the replica), then
// promotes it, removing the source in the same change.
func (r *memberRun) stepLearner(ctx context.Context) (done bool, err error) {
	m, p := r.m, r.p
	to := m.To
	if r.learnerSince.IsZero() {
		r.learnerSince = time.Now()
	}
	if p.Match[to]+catchUpSlack < p.Commit || p.Match[to] == 0 {
		r.stage("catch-up")
		if time.Since(r.learnerSince) > r.n.opts.CatchUpTimeout {
			_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: to})
			return true, fmt.Errorf("placement: node %d did not catch up on shard %d in %v; learner removed", to, m.Shard, r.n.opts.CatchUpTimeout)
		}
		return false, nil
	}
	switch r.hosted(ctx) {
	case learnerGone:
		// Its node dropped the replica: roll the learner back, so that
		// the next attempt starts an empty one.
		r.stage("learner gone")
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: to})
		return false, nil
	case learnerBehind:
		r.stage("catch-up")
		return false, nil
	}
	if m.From != 0 && isMember(&p.Conf, m.From) {
		if r.awayFrom(ctx, m.From) {
			return false, nil
		}
		r.stage("joint")
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: to}, raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: m.From})
	} else {
		r.stage("promote")
		_ = r.change(ctx, raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: to})
	}
	return false, nil
}

// hosted asks the learner's node about its replica; a replica counts as
// hosted only once its node has reported it so for hostedFor.
func (r *memberRun) hosted(ctx context.Context) int {
	hosted := r.n.learnerHosted(ctx, r.m.To, r.m.Shard, r.p.Desc.Epoch)
	if hosted != learnerHosted {
		r.hostedSince = time.Time{}
		return hosted
	}
	if r.hostedSince.IsZero() || time.Since(r.hostedSince) < hostedFor {
		// NB: a stale replica that applied its old removal and its new
		// addition in one batch reports itself hosted until its round
		// destroys it a moment later (shard's removal is not undone by a
		// later re-addition): ask again a little later.
		if r.hostedSince.IsZero() {
			r.hostedSince = time.Now()
		}
		return learnerBehind
	}
	return learnerHosted
}

// change proposes a membership change naming the polled epoch, if this
// run may still act.
func (r *memberRun) change(ctx context.Context, changes ...raftpb.ConfChangeSingle) error {
	if err := r.f.mayAct(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := r.n.store.ChangeReplicas(cctx, r.m.Shard, r.p.Desc.Epoch, changes)
	return err
}

// awayFrom hands the shard's leadership from node (the source, which must
// not lead when it is removed) to another voter; it reports whether it
// did (or the run may no longer act), so that the step waits for the
// next poll.
func (r *memberRun) awayFrom(ctx context.Context, node raftpb.NodeID) bool {
	if r.p.Leader != node {
		return false
	}
	for _, v := range r.p.Conf.Voters {
		if v != node && v != r.m.To {
			if r.f.mayAct(ctx) != nil {
				return true
			}
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = r.n.store.TransferLeader(tctx, r.m.Shard, v)
			cancel()
			return true
		}
	}
	return false
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
