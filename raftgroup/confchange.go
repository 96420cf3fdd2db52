package raftgroup

import (
	"fmt"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ApplyConfChange returns the membership that results from applying cc to
// cs, or an error wrapping ErrInvalidConfChange. It is a pure function:
// the core uses it when a ConfChange entry is applied, and a state machine
// may use it to persist the same ConfState beside its applied index.
//
// The transitions:
//   - an empty change leaves a joint configuration (error if not joint);
//   - a change that alters at most one voter, with TransitionAuto, applies
//     in one simple step;
//   - anything else enters a joint configuration: the current voters become
//     the outgoing half, the changes make the incoming half; demoted voters
//     stay outgoing voters and become learners when the joint is left.
func ApplyConfChange(cs raftpb.ConfState, cc raftpb.ConfChange) (raftpb.ConfState, error) {
	if cc.LeaveJoint() {
		return leaveJoint(cs)
	}
	if autoLeave, ok := cc.EnterJoint(); ok {
		return enterJoint(cs, autoLeave, cc.Changes)
	}
	return simpleChange(cs, cc.Changes)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfChange, fmt.Sprintf(format, args...))
}

func leaveJoint(cs raftpb.ConfState) (raftpb.ConfState, error) {
	if !cs.Joint() {
		return cs, invalid("not in a joint configuration")
	}
	out := cs.Clone()
	for _, id := range out.LearnersNext {
		out.Learners = addID(out.Learners, id)
	}
	out.LearnersNext, out.VotersOutgoing, out.AutoLeave = nil, nil, false
	return out, checkConfState(out)
}

func enterJoint(cs raftpb.ConfState, autoLeave bool, changes []raftpb.ConfChangeSingle) (raftpb.ConfState, error) {
	if cs.Joint() {
		return cs, invalid("already in a joint configuration")
	}
	if len(cs.Voters) == 0 {
		return cs, invalid("cannot enter a joint configuration from an empty one")
	}
	out := cs.Clone()
	out.VotersOutgoing = slices.Clone(cs.Voters)
	if err := applySteps(&out, changes); err != nil {
		return cs, err
	}
	out.AutoLeave = autoLeave
	return out, checkConfState(out)
}

func simpleChange(cs raftpb.ConfState, changes []raftpb.ConfChangeSingle) (raftpb.ConfState, error) {
	if cs.Joint() {
		return cs, invalid("a simple change cannot apply to a joint configuration; leave it first")
	}
	out := cs.Clone()
	if err := applySteps(&out, changes); err != nil {
		return cs, err
	}
	changed := 0
	for _, id := range out.Voters {
		if !slices.Contains(cs.Voters, id) {
			changed++
		}
	}
	for _, id := range cs.Voters {
		if !slices.Contains(out.Voters, id) {
			changed++
		}
	}
	if changed > 1 {
		return cs, invalid("more than one voter changed in a simple change; use joint consensus")
	}
	return out, checkConfState(out)
}

// applySteps applies the single steps to the incoming half of cs.
func applySteps(cs *raftpb.ConfState, changes []raftpb.ConfChangeSingle) error {
	for _, c := range changes {
		if c.Node == raftpb.None {
			return invalid("node ID 0")
		}
		switch c.Type {
		case raftpb.AddVoter:
			cs.Learners = removeID(cs.Learners, c.Node)
			cs.LearnersNext = removeID(cs.LearnersNext, c.Node)
			cs.Voters = addID(cs.Voters, c.Node)
		case raftpb.AddLearner:
			cs.Voters = removeID(cs.Voters, c.Node)
			if slices.Contains(cs.VotersOutgoing, c.Node) {
				cs.LearnersNext = addID(cs.LearnersNext, c.Node)
			} else {
				cs.Learners = addID(cs.Learners, c.Node)
			}
		case raftpb.RemoveNode:
			cs.Voters = removeID(cs.Voters, c.Node)
			cs.Learners = removeID(cs.Learners, c.Node)
			cs.LearnersNext = removeID(cs.LearnersNext, c.Node)
		default:
			return invalid("unknown step type %d", c.Type)
		}
	}
	return nil
}

// checkConfState verifies the ConfState invariants.
func checkConfState(cs raftpb.ConfState) error {
	if len(cs.Voters) == 0 {
		return invalid("no voters would remain")
	}
	for _, id := range cs.Learners {
		if slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id) {
			return invalid("node %d is both learner and voter", id)
		}
	}
	for _, id := range cs.LearnersNext {
		if !slices.Contains(cs.VotersOutgoing, id) || slices.Contains(cs.Voters, id) {
			return invalid("node %d in learners_next must be an outgoing voter only", id)
		}
	}
	if cs.AutoLeave && !cs.Joint() {
		return invalid("autoleave outside a joint configuration")
	}
	return nil
}

func addID(ids []raftpb.NodeID, id raftpb.NodeID) []raftpb.NodeID {
	if slices.Contains(ids, id) {
		return ids
	}
	ids = append(ids, id)
	slices.Sort(ids)
	return ids
}

func removeID(ids []raftpb.NodeID, id raftpb.NodeID) []raftpb.NodeID {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}
