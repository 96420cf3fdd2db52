package rafttest

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// confChange proposes a random membership change at the leader: add or
// remove voters and learners, promote or demote, several at once through
// joint consensus (left automatically or explicitly), or leave a joint
// configuration. New replicas get fresh node IDs (IDs are never reused)
// and start empty, waiting for the leader.
func (s *Simulator) confChange() error {
	l := s.leader()
	if l == nil {
		return nil
	}
	cs := l.g.ConfState()
	var cc raftpb.ConfChange
	newIDs := 0
	if cs.Joint() && s.rng.IntN(3) != 0 {
		cc = raftpb.ConfChange{} // leave joint
	} else {
		steps := 1
		if s.rng.IntN(3) == 0 {
			steps = 2 + s.rng.IntN(2)
		}
		for range steps {
			c, isNew := s.randomStep(cs, newIDs)
			if c.Node == raftpb.None {
				break
			}
			if isNew {
				newIDs++
			}
			cc.Changes = append(cc.Changes, c)
		}
		if len(cc.Changes) == 0 {
			return nil
		}
		cc.Transition = raftpb.ConfChangeTransition(s.rng.IntN(3))
		if s.rng.IntN(2) == 0 {
			cc.Transition = raftpb.TransitionAuto
		}
	}
	_, _, err := l.g.ProposeConfChange(cc)
	note := cc.String()
	if err != nil {
		note += ": " + err.Error()
	}
	s.record(event{kind: evConfChange, node: l.id, note: note})
	if err != nil {
		return nil
	}
	for range newIDs {
		if err := s.addNode(raftpb.ConfState{}); err != nil {
			return err
		}
	}
	return nil
}

// randomStep returns one membership step for cs; isNew says it adds the
// next fresh node (the pending'th new one of this change). A zero step
// means nothing suitable.
func (s *Simulator) randomStep(cs raftpb.ConfState, pending int) (c raftpb.ConfChangeSingle, isNew bool) {
	fresh := raftpb.NodeID(len(s.nodes) + pending)
	canAdd := int(fresh) <= s.cfg.Nodes+s.cfg.MaxAddedNodes
	voters, learners := len(cs.Voters), len(cs.Learners)
	switch r := s.rng.IntN(6); {
	case r == 0 && canAdd:
		return raftpb.ConfChangeSingle{Type: raftpb.AddLearner, Node: fresh}, true
	case r == 1 && canAdd && voters < 7:
		return raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: fresh}, true
	case r == 2 && learners > 0:
		return raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: cs.Learners[s.rng.IntN(learners)]}, false
	case r == 3 && voters > 2:
		return raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: cs.Voters[s.rng.IntN(voters)]}, false
	case r == 4 && learners > 0:
		return raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: cs.Learners[s.rng.IntN(learners)]}, false
	case r == 5 && voters > 2:
		return raftpb.ConfChangeSingle{Type: raftpb.AddLearner, Node: cs.Voters[s.rng.IntN(voters)]}, false
	}
	// Fall back to re-adding an existing member as what it is (a valid
	// no-op change) or promoting: keeps changes flowing.
	if learners > 0 {
		return raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: cs.Learners[0]}, false
	}
	if voters > 0 {
		return raftpb.ConfChangeSingle{Type: raftpb.AddVoter, Node: cs.Voters[0]}, false
	}
	return c, false
}
