package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// checkInvariants runs after every Ready and every delivered message. It
// fails the script on the first safety violation:
//   - election safety: at most one leader per term;
//   - log matching: if two logs hold an entry with the same index and
//     term, they agree on every entry up to it;
//   - commit safety: no replica's commit index is past its last index;
//   - a replica's term and commit index never go backwards.
//
// The state machine check (every replica applies the same entry at each
// index) runs as entries are applied, in iEnv.apply.
func (e *iEnv) checkInvariants() {
	e.t.Helper()
	for _, id := range e.ids {
		g := e.nodes[id].g
		if g.role == Leader {
			if other, ok := e.leaders[g.term]; ok && other != id {
				e.t.Fatalf("invariant: nodes %d and %d are both leader in term %d", other, id, g.term)
			}
			e.leaders[g.term] = id
		}
		if g.log.committed > g.log.lastIndex() {
			e.t.Fatalf("invariant: node %d commit %d past last index %d", id, g.log.committed, g.log.lastIndex())
		}
		n := e.nodes[id]
		if g.term < n.term || g.log.committed < n.commit {
			e.t.Fatalf("invariant: node %d went back from term %d commit %d to term %d commit %d",
				id, n.term, n.commit, g.term, g.log.committed)
		}
		n.term, n.commit = g.term, g.log.committed
	}
	for i, a := range e.ids {
		for _, b := range e.ids[i+1:] {
			e.checkLogMatching(a, b)
		}
	}
}

// checkLogMatching compares the logs of a and b over the range both still
// hold: below the highest index where their terms agree, every term must
// agree too.
func (e *iEnv) checkLogMatching(a, b raftpb.NodeID) {
	e.t.Helper()
	la, lb := e.nodes[a].g.log, e.nodes[b].g.log
	lo := max(la.firstIndex(), lb.firstIndex())
	hi := min(la.lastIndex(), lb.lastIndex())
	matched := false
	for i := hi; i >= lo && i > 0; i-- {
		ta, errA := la.term(i)
		tb, errB := lb.term(i)
		if errA != nil || errB != nil {
			e.t.Fatalf("invariant: reading term %d on nodes %d/%d: %v / %v", i, a, b, errA, errB)
		}
		if ta == tb {
			matched = true
		} else if matched {
			e.t.Fatalf("invariant: log matching: nodes %d and %d agree at a later index but differ at %d (terms %d, %d)",
				a, b, i, ta, tb)
		}
	}
}
