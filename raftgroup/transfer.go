package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// TransferLeader hands leadership to voter `to`: the leader stops taking
// proposals (they get ErrTransferInProgress), brings `to` up to date, then
// tells it to campaign at once (MsgTimeoutNow). If `to` has not taken over
// within an election timeout the transfer is abandoned and proposals
// resume. Transferring to the current leader is a no-op.
func (g *Group) TransferLeader(to raftpb.NodeID) error {
	g.wake()
	if g.role != Leader {
		return &NotLeaderError{Group: g.group, Leader: g.lead, Term: g.term}
	}
	if to == g.id {
		return nil
	}
	pr := g.trk.get(to)
	if pr == nil || pr.isLearner || !g.trk.isVoter(to) {
		return ErrTransferTarget
	}
	if g.leadTransferee == to {
		return nil
	}
	g.leadTransferee = to
	// The transfer gets one election timeout from now.
	g.electionElapsed = 0
	if pr.match == g.log.lastIndex() {
		g.sendTimeoutNow(to)
	} else {
		g.maybeSendAppend(to, emptyAlways)
	}
	return nil
}

func (g *Group) sendTimeoutNow(to raftpb.NodeID) {
	g.sentTimeoutNow = true
	g.send(raftpb.Message{Type: raftpb.MsgTimeoutNow, To: to})
}
