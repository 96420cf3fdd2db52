package raftgroup

import (
	"math"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Tick advances the group's logical clock by one tick. A quiesced group
// ignores ticks.
func (g *Group) Tick() {
	if g.quiesced {
		return
	}
	g.ticks++
	if g.role == Leader {
		g.tickLeader()
		return
	}
	g.electionElapsed++
	if g.promotable() && g.electionElapsed >= g.randomizedTimeout {
		g.electionElapsed = 0
		g.hup(false)
	}
}

// tickLeader runs CheckQuorum every tick, the transfer timeout every
// election timeout, and heartbeats (or quiesces) every heartbeat interval.
//
// NB: CheckQuorum counts, per member, the ticks since it was last heard
// from, and the leader steps down as soon as a quorum has been silent for
// ElectionTicks. Checking flags once per election timeout instead would let
// answers heard just after one check carry the leader through the next:
// it would stay leader for almost two timeouts, while the followers may
// elect another after one, and its lease reads would then be stale.
func (g *Group) tickLeader() {
	g.heartbeatElapsed++
	g.electionElapsed++
	if !g.cfg.DisableCheckQuorum {
		for i := range g.trk.progress {
			if pr := &g.trk.progress[i]; pr.inactiveTicks < math.MaxInt32 {
				pr.inactiveTicks++
			}
		}
		if !g.trk.quorumActive(g.id, g.cfg.ElectionTicks) {
			g.becomeFollower(g.term, raftpb.None)
			return
		}
	}
	if g.electionElapsed >= int32(g.cfg.ElectionTicks) {
		g.electionElapsed = 0
		if !g.cfg.DisableCheckQuorum {
			for i := range g.trk.progress {
				if pr := &g.trk.progress[i]; pr.id != g.id {
					pr.recentActive = false
				}
			}
		}
		g.leadTransferee = raftpb.None // a transfer gets one election timeout
	}
	if g.heartbeatElapsed >= int32(g.cfg.HeartbeatTicks) {
		g.heartbeatElapsed = 0
		if g.maybeQuiesce() {
			return
		}
		g.bcastHeartbeat()
	}
	g.maybeAutoLeave()
}

// Campaign starts an election now (as after an election timeout), if this
// replica is a voter and not the leader.
func (g *Group) Campaign() {
	g.wake()
	g.hup(false)
}

// ForgetLeader tells a follower that its leader is gone: membership
// declared the leader's node dead. The follower keeps its term, wakes, and
// forgets the leader, which takes it out of the leader's CheckQuorum lease:
// it grants (pre-)votes at once rather than only after an election timeout
// of silence, so one survivor that calls Campaign can win in a round trip
// instead of the whole group waiting out its timeouts. Its own campaigns
// then carry the news (contextLeaderDead), so a voter not yet told of the
// death grants them too, as it grants a leadership transfer's. Raft's safety does
// not depend on the lease, only its resistance to disruptive candidates,
// and a node declared dead disrupts nobody.
//
// With Config.LeaseReads it does nothing but wake the group: a leader
// declared dead by mistake (say, cut off from gossip but not from its
// followers' Raft traffic) may still answer reads from its lease, and only
// time may end a lease. It returns whether the leader was forgotten.
func (g *Group) ForgetLeader() bool {
	g.wake()
	if g.cfg.LeaseReads || g.role != Follower || g.lead == raftpb.None {
		return false
	}
	g.lead = raftpb.None
	g.leaderDead = true
	return true
}

// hup starts an election: a pre-vote first unless disabled or forced by a
// leadership transfer.
func (g *Group) hup(transfer bool) {
	if g.role == Leader || !g.promotable() {
		return
	}
	if g.hasUnappliedConfChange() {
		// The configuration we would campaign in may be about to change.
		return
	}
	if !g.cfg.DisablePreVote && !transfer {
		g.campaign(raftpb.MsgPreVote, false)
	} else {
		g.campaign(raftpb.MsgVote, transfer)
	}
}

func (g *Group) hasUnappliedConfChange() bool {
	if g.log.applied >= g.log.committed {
		return false
	}
	lo := max(g.log.applied+1, g.log.firstIndex())
	for lo <= g.log.committed {
		ents, err := g.log.slice(lo, g.log.committed+1, g.cfg.MaxCommittedBytesPerReady)
		if err != nil || len(ents) == 0 {
			return false
		}
		for i := range ents {
			if ents[i].Type == raftpb.EntryConfChange {
				return true
			}
		}
		lo = ents[len(ents)-1].Index + 1
	}
	return false
}

// campaign asks every voter for a (pre-)vote.
func (g *Group) campaign(t raftpb.MessageType, transfer bool) {
	term := g.term + 1
	if t == raftpb.MsgPreVote {
		g.becomePreCandidate()
	} else {
		g.becomeCandidate()
		term = g.term
	}
	g.trk.recordVote(g.id, true)
	if g.trk.tally() == voteWon {
		g.wonElection(t)
		return
	}
	var ctx uint64
	switch {
	case transfer:
		ctx = contextTransfer
	case g.leaderDead:
		ctx = contextLeaderDead
	}
	for _, id := range g.trk.voters().ids() {
		if id == g.id {
			continue
		}
		m := raftpb.Message{Type: t, To: id, Term: term, Index: g.log.lastIndex(), LogTerm: g.log.lastTerm(), Context: ctx}
		if t == raftpb.MsgVote {
			// Our vote for ourselves and the new term must be durable first.
			g.sendAfterPersist(m)
		} else {
			g.send(m)
		}
	}
}

func (g *Group) wonElection(t raftpb.MessageType) {
	if !g.promotable() {
		// Removed from the voters while campaigning (the removal was
		// applied meanwhile): winning would make a leader outside the
		// configuration.
		g.becomeFollower(g.term, raftpb.None)
		return
	}
	if t == raftpb.MsgPreVote {
		g.campaign(raftpb.MsgVote, false)
	} else {
		g.becomeLeader()
	}
}

// handleVoteRequest answers MsgVote and MsgPreVote (terms already checked
// by Step).
func (g *Group) handleVoteRequest(m raftpb.Message) {
	canVote := g.vote == m.From ||
		(g.vote == raftpb.None && g.lead == raftpb.None) ||
		(m.Type == raftpb.MsgPreVote && m.Term > g.term)
	respType := raftpb.MsgVoteResp
	if m.Type == raftpb.MsgPreVote {
		respType = raftpb.MsgPreVoteResp
	}
	if !canVote || !g.log.isUpToDate(m.Index, m.LogTerm) {
		// The refusal tells the candidate our commit index (see
		// handleVoteResp).
		ct, _ := g.log.term(g.log.committed)
		g.send(raftpb.Message{Type: respType, To: m.From, Term: g.term, Reject: true, Index: g.log.committed, LogTerm: ct})
		return
	}
	// A grant carries the requested term so the candidate counts it even
	// when we have not moved to that term (pre-vote).
	resp := raftpb.Message{Type: respType, To: m.From, Term: m.Term}
	if m.Type == raftpb.MsgPreVote {
		g.send(resp)
		return
	}
	g.electionElapsed = 0
	g.vote = m.From
	g.sendAfterPersist(resp)
}

// handleVoteResp counts an answer to our campaign.
//
// A refusal carries the voter's commit index and its term: if our log
// holds that entry, everything up to it is committed here too (log
// matching). NB: this is how a voter that missed the commit of a
// membership change learns it when no leader is left to tell it: a sole
// remaining voter still applying a joint configuration could otherwise
// never win the votes of the outgoing voters whose logs are longer.
func (g *Group) handleVoteResp(m raftpb.Message) {
	if m.Reject && m.Index > g.log.committed && g.log.matchTerm(m.Index, m.LogTerm) {
		g.log.commitTo(m.Index)
	}
	if (g.role == PreCandidate) != (m.Type == raftpb.MsgPreVoteResp) {
		return
	}
	g.trk.recordVote(m.From, !m.Reject)
	switch g.trk.tally() {
	case voteWon:
		if g.role == PreCandidate {
			g.wonElection(raftpb.MsgPreVote)
		} else {
			g.wonElection(raftpb.MsgVote)
		}
	case voteLost:
		g.becomeFollower(g.term, raftpb.None)
	}
}
