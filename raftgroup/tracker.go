package raftgroup

import (
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// tracker holds the membership in force and, on a leader, the progress
// of every member; it tallies votes.
//
// Invariant: on a leader, progress has an entry for exactly the members
// of cs (voters of either half, learners, learners_next), in ascending ID
// order, so that message order (and with it the simulator) is
// deterministic. On any other role it is nil.
//
// NB: only the leader keeps progress (it is reset whenever a replica
// becomes leader, so a follower's would be dead weight), and in a slice,
// not a map: a group has a handful of members, a linear scan finds one
// as fast as a map lookup, and a node hosts tens of thousands of groups,
// two thirds of them followers, for which the map, one allocation per
// member and an id list cost about 700 B each.
type tracker struct {
	cs raftpb.ConfState
	// progress is one entry per member on a leader. Pointers into it are
	// valid until the next setConfig, track or untrack.
	progress []progress
	// votes are the answers of the current election; nil outside one.
	votes map[raftpb.NodeID]bool
}

// setConfig installs cs. On a leader (tracking) it keeps the progress of
// members that stay and creates it (probing from next, with cfg's
// in-flight window) for new ones.
func (t *tracker) setConfig(cs raftpb.ConfState, next raftpb.Index, cfg *Config, tracking bool) {
	t.cs = cs.Clone()
	if !tracking {
		t.progress = nil
		return
	}
	t.track(next, cfg)
}

// untrack drops the progress (the replica is not leader).
func (t *tracker) untrack() { t.progress = nil }

// track makes the progress of every member of cs: kept for those that
// have one, probing from next for the others.
func (t *tracker) track(next raftpb.Index, cfg *Config) {
	var ids []raftpb.NodeID
	for _, l := range [][]raftpb.NodeID{t.cs.Voters, t.cs.VotersOutgoing, t.cs.Learners, t.cs.LearnersNext} {
		ids = append(ids, l...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	old := t.progress
	t.progress = make([]progress, len(ids))
	for i, id := range ids {
		pr := &t.progress[i]
		if o := findProgress(old, id); o != nil {
			*pr = *o
		} else {
			*pr = progress{id: id, next: next, recentActive: true, inflights: newInflights(cfg.MaxInflightMsgs, cfg.MaxInflightBytes)}
		}
		// A member that is a voter in either half is not a learner.
		pr.isLearner = !t.isVoter(id)
	}
}

// get returns the progress of member id, or nil if id is not a member.
func (t *tracker) get(id raftpb.NodeID) *progress { return findProgress(t.progress, id) }

func findProgress(prs []progress, id raftpb.NodeID) *progress {
	for i := range prs {
		if prs[i].id == id {
			return &prs[i]
		}
	}
	return nil
}

// voters returns the voters of both halves of the configuration. NB:
// derived on use rather than kept (it shares cs's arrays, which are never
// modified): a group is small, and a node hosts tens of thousands.
func (t *tracker) voters() joint {
	return joint{majority(t.cs.Voters), majority(t.cs.VotersOutgoing)}
}

func (t *tracker) isVoter(id raftpb.NodeID) bool { return t.voters().contains(id) }

// committed is the highest index acknowledged by a quorum.
func (t *tracker) committed() raftpb.Index {
	return t.voters().committed(func(id raftpb.NodeID) raftpb.Index {
		if pr := t.get(id); pr != nil {
			return pr.match
		}
		return 0
	})
}

// quorumActive reports whether a quorum was heard from within the last
// electionTicks ticks (self is always active). It does not allocate: it
// runs on every leader tick.
func (t *tracker) quorumActive(self raftpb.NodeID, electionTicks int) bool {
	active := t.voters().committed(func(id raftpb.NodeID) raftpb.Index {
		if pr := t.get(id); id == self || pr != nil && int(pr.inactiveTicks) < electionTicks {
			return 1
		}
		return 0
	})
	return active >= 1
}

// resetVotes forgets the votes of the last election. NB: the map is
// dropped, not cleared: most groups hold one election and then stay idle
// for long, and an emptied map keeps its buckets (about 190 B per group).
func (t *tracker) resetVotes() { t.votes = nil }

func (t *tracker) recordVote(id raftpb.NodeID, granted bool) {
	if t.votes == nil {
		t.votes = make(map[raftpb.NodeID]bool, 4)
	}
	if _, ok := t.votes[id]; !ok {
		t.votes[id] = granted
	}
}

func (t *tracker) tally() voteResult { return t.voters().vote(t.votes) }
