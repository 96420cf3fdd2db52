package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// handleAppend appends a leader's entries if our log matches at the
// message's Index, and otherwise rejects with a hint for fast backtracking.
func (g *Group) handleAppend(m raftpb.Message) {
	if m.Index < g.log.committed {
		g.sendAfterPersist(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From, Index: g.log.committed})
		return
	}
	if last, ok := g.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		g.sendAfterPersist(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From, Index: last})
		return
	}
	// Our log does not hold (m.Index, m.LogTerm). Hint the largest index
	// at which it may match: the last entry whose term is at most the
	// leader's term at m.Index.
	hint, hintTerm := g.log.findConflictByTerm(min(m.Index, g.log.lastIndex()), m.LogTerm)
	g.sendAfterPersist(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From, Index: m.Index,
		Reject: true, RejectHint: hint, LogTerm: hintTerm})
}

// handleHeartbeat learns the commit index (the leader sends at most what it
// knows we hold) and answers, echoing the read round.
func (g *Group) handleHeartbeat(m raftpb.Message) {
	g.log.commitTo(m.Commit)
	g.send(raftpb.Message{Type: raftpb.MsgHeartbeatResp, To: m.From, Context: m.Context})
}

// handleSnapshot installs a leader's snapshot if it is ahead of our commit
// index and we cannot just fast-forward to it.
func (g *Group) handleSnapshot(m raftpb.Message) {
	s := *m.Snapshot
	if g.restore(s) {
		g.sendAfterPersist(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From, Index: g.log.lastIndex()})
		return
	}
	g.sendAfterPersist(raftpb.Message{Type: raftpb.MsgAppResp, To: m.From, Index: g.log.committed})
}

// restore resets the log to snapshot s. It reports false if s is not newer
// than our commit index, if committed entries are being applied, or if our
// log already holds s's last entry (then it only advances commit).
func (g *Group) restore(s raftpb.Snapshot) bool {
	md := s.Metadata
	if md.Index <= g.log.committed {
		return false
	}
	if g.log.applying > g.log.applied {
		// Committed entries are handed out and not yet applied: Advance
		// would apply a membership change among them on top of the
		// snapshot's membership. Refuse; the leader sends it again.
		return false
	}
	cs := md.ConfState
	if !member(cs, g.id) {
		// A snapshot from a configuration we are not in: ignore it rather
		// than join a group that does not count us.
		return false
	}
	if g.log.matchTerm(md.Index, md.Term) {
		g.log.commitTo(md.Index)
		return false
	}
	g.log.restore(s)
	g.trk.setConfig(cs, g.log.lastIndex()+1, &g.cfg, g.role == Leader)
	return true
}

func member(cs raftpb.ConfState, id raftpb.NodeID) bool {
	for _, ids := range [][]raftpb.NodeID{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
	}
	return false
}
