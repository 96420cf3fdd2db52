package raftgroup

import (
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// tracker holds the membership in force and the leader's progress for
// every member, and tallies votes.
//
// Invariant: progress has an entry for exactly the members of cs (voters
// of either half, learners, learners_next).
type tracker struct {
	cs       raftpb.ConfState
	voters   joint
	progress map[raftpb.NodeID]*progress
	votes    map[raftpb.NodeID]bool
	// ids lists the members in ascending order, so that message order (and
	// with it the simulator) is deterministic.
	ids []raftpb.NodeID

	maxInflight      int
	maxInflightBytes uint64
}

// setConfig installs cs, keeping progress for members that stay and
// creating it (probing from next) for new ones.
func (t *tracker) setConfig(cs raftpb.ConfState, next raftpb.Index) {
	t.cs = cs.Clone()
	t.voters = joint{majority(slices.Clone(cs.Voters)), majority(slices.Clone(cs.VotersOutgoing))}
	old := t.progress
	t.progress = make(map[raftpb.NodeID]*progress, len(cs.Voters)+len(cs.Learners))
	add := func(id raftpb.NodeID, learner bool) {
		if _, ok := t.progress[id]; ok {
			return
		}
		pr := old[id]
		if pr == nil {
			pr = &progress{next: next, recentActive: true, inflights: newInflights(t.maxInflight, t.maxInflightBytes)}
		}
		pr.isLearner = learner
		t.progress[id] = pr
	}
	for _, id := range cs.Voters {
		add(id, false)
	}
	for _, id := range cs.VotersOutgoing {
		add(id, false)
	}
	for _, id := range cs.Learners {
		add(id, true)
	}
	for _, id := range cs.LearnersNext {
		add(id, true)
	}
	t.ids = t.ids[:0]
	for id := range t.progress {
		t.ids = append(t.ids, id)
	}
	slices.Sort(t.ids)
}

func (t *tracker) isVoter(id raftpb.NodeID) bool { return t.voters.contains(id) }

// committed is the highest index acknowledged by a quorum.
func (t *tracker) committed() raftpb.Index {
	return t.voters.committed(func(id raftpb.NodeID) raftpb.Index {
		if pr := t.progress[id]; pr != nil {
			return pr.match
		}
		return 0
	})
}

// quorumActive reports whether a quorum was heard from within the last
// electionTicks ticks (self is always active). It does not allocate: it
// runs on every leader tick.
func (t *tracker) quorumActive(self raftpb.NodeID, electionTicks int) bool {
	active := t.voters.committed(func(id raftpb.NodeID) raftpb.Index {
		if pr := t.progress[id]; id == self || pr != nil && pr.inactiveTicks < electionTicks {
			return 1
		}
		return 0
	})
	return active >= 1
}

func (t *tracker) resetVotes() { clear(t.votes) }

func (t *tracker) recordVote(id raftpb.NodeID, granted bool) {
	if t.votes == nil {
		t.votes = make(map[raftpb.NodeID]bool, 4)
	}
	if _, ok := t.votes[id]; !ok {
		t.votes[id] = granted
	}
}

func (t *tracker) tally() voteResult { return t.voters.vote(t.votes) }
