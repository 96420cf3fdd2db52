package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// ProgressStatus is the leader's view of one member.
type ProgressStatus struct {
	Match, Next  raftpb.Index
	State        ProgressState
	RecentActive bool
	Learner      bool
	Inflight     int
}

// Status is a snapshot of a replica's state, for admin status and tests.
type Status struct {
	ID             raftpb.NodeID
	Group          raftpb.GroupID
	HardState      raftpb.HardState
	SoftState      SoftState
	Applied        raftpb.Index
	FirstIndex     raftpb.Index
	LastIndex      raftpb.Index
	Config         raftpb.ConfState
	LeadTransferee raftpb.NodeID
	Quiesced       bool
	// Progress is set on the leader only.
	Progress map[raftpb.NodeID]ProgressStatus
}

// Status returns the replica's state. It allocates; use the accessors
// (Role, Leader, Term) on hot paths.
func (g *Group) Status() Status {
	s := Status{
		ID: g.id, Group: g.group,
		HardState:      g.hardState(),
		SoftState:      g.softState(),
		Applied:        g.log.applied,
		FirstIndex:     g.log.firstIndex(),
		LastIndex:      g.log.lastIndex(),
		Config:         g.trk.cs.Clone(),
		LeadTransferee: g.leadTransferee,
		Quiesced:       g.quiesced,
	}
	if g.role == Leader {
		s.Progress = make(map[raftpb.NodeID]ProgressStatus, len(g.trk.progress))
		for i := range g.trk.progress {
			pr := &g.trk.progress[i]
			s.Progress[pr.id] = ProgressStatus{Match: pr.match, Next: pr.next, State: pr.state,
				RecentActive: pr.recentActive, Learner: pr.isLearner, Inflight: pr.inflights.count}
		}
	}
	return s
}

// Role returns the replica's current role.
func (g *Group) Role() Role { return g.role }

// Leader returns the leader this replica knows of, or raftpb.None.
func (g *Group) Leader() raftpb.NodeID { return g.lead }

// Term returns the current term.
func (g *Group) Term() raftpb.Term { return g.term }

// ConfState returns the membership in force.
func (g *Group) ConfState() raftpb.ConfState { return g.trk.cs.Clone() }

// ReportUnreachable tells the leader that a message to `to` could not be
// delivered; it stops streaming to that follower and probes instead.
func (g *Group) ReportUnreachable(to raftpb.NodeID) {
	if pr := g.trk.get(to); g.role == Leader && pr != nil && pr.state == StateReplicate {
		pr.becomeProbe()
	}
}

// ReportSnapshot tells the leader how sending a snapshot to `to` ended. On
// failure the follower is probed again (and gets a new snapshot if it still
// needs one); on success the leader waits for the follower's ack.
func (g *Group) ReportSnapshot(to raftpb.NodeID, failed bool) {
	pr := g.trk.get(to)
	if g.role != Leader || pr == nil || pr.state != StateSnapshot {
		return
	}
	if failed {
		pr.pendingSnapshot = 0
	}
	pr.becomeProbe()
	// Wait for a heartbeat response before probing.
	pr.probeSent = true
}
