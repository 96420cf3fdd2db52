package raftgroup

import (
	"math"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// majority is a set of voters decided by simple majority. An empty
// majority agrees to everything (so a non-joint configuration can be
// treated as joint with an empty outgoing half).
type majority []raftpb.NodeID

// voteResult is the outcome of counting votes.
type voteResult uint8

const (
	votePending voteResult = iota
	voteLost
	voteWon
)

// committed returns the highest index that a majority has acknowledged,
// given each voter's acknowledged index.
func (m majority) committed(acked func(raftpb.NodeID) raftpb.Index) raftpb.Index {
	n := len(m)
	if n == 0 {
		return math.MaxUint64
	}
	var stack [7]raftpb.Index
	idx := stack[:0]
	if n > len(stack) {
		idx = make([]raftpb.Index, 0, n)
	}
	for _, id := range m {
		idx = append(idx, acked(id))
	}
	slices.Sort(idx)
	// Ascending order: the (n/2+1)-th largest is at n - (n/2+1).
	return idx[n-(n/2+1)]
}

// vote counts yes/no votes; voters absent from votes have not answered.
func (m majority) vote(votes map[raftpb.NodeID]bool) voteResult {
	if len(m) == 0 {
		return voteWon
	}
	var yes, missing int
	for _, id := range m {
		v, ok := votes[id]
		if !ok {
			missing++
		} else if v {
			yes++
		}
	}
	q := len(m)/2 + 1
	switch {
	case yes >= q:
		return voteWon
	case yes+missing >= q:
		return votePending
	}
	return voteLost
}

func (m majority) contains(id raftpb.NodeID) bool { return slices.Contains(m, id) }

// joint is a possibly-joint configuration: incoming and outgoing voters.
// Decisions need a majority of each.
type joint [2]majority

func (j joint) committed(acked func(raftpb.NodeID) raftpb.Index) raftpb.Index {
	return min(j[0].committed(acked), j[1].committed(acked))
}

func (j joint) vote(votes map[raftpb.NodeID]bool) voteResult {
	r0, r1 := j[0].vote(votes), j[1].vote(votes)
	switch {
	case r0 == voteWon && r1 == voteWon:
		return voteWon
	case r0 == voteLost || r1 == voteLost:
		return voteLost
	}
	return votePending
}

func (j joint) contains(id raftpb.NodeID) bool { return j[0].contains(id) || j[1].contains(id) }

// ids returns every voter of either half, without duplicates.
func (j joint) ids() []raftpb.NodeID {
	out := slices.Clone([]raftpb.NodeID(j[0]))
	for _, id := range j[1] {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
