package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// Quiescence lets an idle group cost nothing: no ticks, no heartbeats.
//
// The leader quiesces on a heartbeat tick when nothing is moving: every
// member holds the whole log, everything is committed and applied, no
// read, transfer or membership change is pending. Instead of a heartbeat it
// sends MsgQuiesce (a heartbeat that also says "go quiet"). A follower that
// receives it while it holds the whole log goes quiet too.
//
// A quiet group wakes on any input: a proposal, a read, a transfer, any
// message other than MsgQuiesce, or Wake. A quiet follower never campaigns
// on its own; the node hosting it calls ForgetLeader (which wakes it) when
// the leader's node is declared dead, and one chosen survivor campaigns at
// once; the others campaign after an election timeout without a leader.

// Quiesced reports whether the group is quiet: the caller may stop ticking
// it until it has input again.
func (g *Group) Quiesced() bool { return g.quiesced }

// Wake ends quiescence (a dead leader node, or any reason to resume
// ticking). The election timer starts over, so a woken follower campaigns
// only if it then hears nothing for an election timeout.
func (g *Group) Wake() { g.wake() }

func (g *Group) wake() {
	if !g.quiesced {
		return
	}
	g.quiesced = false
	g.electionElapsed = 0
	g.heartbeatElapsed = 0
	if g.role == Leader {
		// Nobody was heard from while quiet: do not count that against
		// the quorum check.
		for i := range g.trk.progress {
			pr := &g.trk.progress[i]
			pr.recentActive = true
			pr.inactiveTicks = 0
		}
		g.reads.leaseFrom = g.reads.seq + 1
	}
}

// canQuiesce reports whether the leader's group is idle.
func (g *Group) canQuiesce() bool {
	if g.cfg.DisableQuiesce || g.role != Leader || g.leadTransferee != raftpb.None {
		return false
	}
	last := g.log.lastIndex()
	if g.log.committed != last || g.log.applied != last || g.bcastPending {
		return false
	}
	if g.trk.cs.Joint() || g.pendingConfIndex > g.log.applied {
		return false
	}
	if g.reads.pending() || g.reads.hasWork() {
		return false
	}
	for i := range g.trk.progress {
		if g.trk.progress[i].match != last {
			return false
		}
	}
	return true
}

// maybeQuiesce quiesces an idle leader, telling its followers. It reports
// whether it did.
func (g *Group) maybeQuiesce() bool {
	if !g.canQuiesce() {
		return false
	}
	for i := range g.trk.progress {
		if id := g.trk.progress[i].id; id != g.id {
			g.send(raftpb.Message{Type: raftpb.MsgQuiesce, To: id, Commit: g.log.committed})
		}
	}
	g.quiesced = true
	g.releaseIdleBuffers()
	return true
}

// releaseIdleBuffers gives back the empty buffers a quiescing leader kept
// from its last requests (its read queue, its followers' in-flight
// rings): it may stay idle for hours, and a node hosts thousands of
// leaders. They are made again on the next request.
func (g *Group) releaseIdleBuffers() {
	g.reads.release()
	for i := range g.trk.progress {
		if in := &g.trk.progress[i].inflights; in.count == 0 {
			in.buf, in.start = nil, 0
		}
	}
}

// handleQuiesce quiesces a follower told to by its leader, if it holds the
// leader's whole committed log. It answers only if it cannot: the answer
// wakes the leader, which then brings it up to date.
func (g *Group) handleQuiesce(m raftpb.Message) {
	g.log.commitTo(m.Commit)
	if g.cfg.DisableQuiesce || g.log.lastIndex() != m.Commit || g.log.committed != m.Commit {
		g.wake()
		g.send(raftpb.Message{Type: raftpb.MsgHeartbeatResp, To: m.From})
		return
	}
	g.quiesced = true
	g.electionElapsed = 0
}
