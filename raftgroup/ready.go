package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// SoftState is the volatile part of a replica's state, reported when it
// changes.
type SoftState struct {
	Lead raftpb.NodeID
	Role Role
}

// ReadState answers a ReadIndex request: once the state machine has
// applied Index, a read made there is linearizable.
type ReadState struct {
	ID    uint64
	Index raftpb.Index
}

// Ready is what the caller must do for a group, in this order:
//
//  1. persist Snapshot (if any), then Entries, then HardState (if not
//     empty) — durably (fsync) when MustSync;
//  2. Messages may be sent at once, even before step 1 completes (a
//     leader replicates before its own write is durable);
//  3. MessagesAfterPersist are sent only after step 1 is durable;
//  4. apply CommittedEntries (after step 1: they may include this Ready's
//     Entries) and serve ReadStates once their Index is applied;
//  5. call Advance(rd).
//
// Slices in a Ready belong to the caller once handed out, but entry Data
// is shared with the log: do not modify it.
type Ready struct {
	// SoftState is non-nil when the leader or role changed.
	SoftState *SoftState
	// HardState is non-empty when it changed.
	HardState raftpb.HardState
	// Snapshot, if non-nil, must be installed (state machine and log)
	// before Entries are appended.
	Snapshot *raftpb.Snapshot
	// Entries must be appended to stable storage; an entry whose index
	// already exists replaces it and everything after it.
	Entries []raftpb.Entry
	// Messages can be sent now.
	Messages []raftpb.Message
	// MessagesAfterPersist wait until HardState, Entries and Snapshot of
	// this Ready are durable.
	MessagesAfterPersist []raftpb.Message
	// CommittedEntries are committed and ready to apply, in order.
	CommittedEntries []raftpb.Entry
	// ReadStates are confirmed reads.
	ReadStates []ReadState
	// DroppedReads are ReadIndex requests that will never be confirmed
	// here (leadership was lost): fail them, or retry at the new leader.
	DroppedReads []uint64
	// MustSync says whether step 1 needs an fsync (entries, term or vote
	// changed; a commit-only change does not).
	MustSync bool
}

// HasReady reports whether Ready would return anything.
func (g *Group) HasReady() bool {
	if g.bcastPending && g.role == Leader {
		return true
	}
	if g.reads.hasWork() {
		return true
	}
	if len(g.msgs) > 0 || len(g.msgsAfterPersist) > 0 {
		return true
	}
	if g.lead != g.prevLead || g.role != g.prevRole {
		return true
	}
	if hs := g.hardState(); !hs.IsEmpty() && hs != g.prevHard {
		return true
	}
	if g.log.unstable.nextSnapshot() != nil || len(g.log.unstable.nextEntries()) > 0 {
		return true
	}
	return g.log.hasNextCommittedEnts()
}

// Ready returns the group's pending work and marks it handed out: the next
// Ready returns only what is new. Call Advance(rd) once it is done.
func (g *Group) Ready() Ready {
	if g.role == Leader {
		if g.bcastPending {
			g.bcastAppend()
		}
		g.startReadRound()
	}
	var rd Ready
	if g.lead != g.prevLead || g.role != g.prevRole {
		// NB: made inside the branch, so that only a change allocates.
		changed := g.softState()
		rd.SoftState = &changed
		g.prevLead, g.prevRole = g.lead, g.role
	}
	prevTerm, prevVote := g.prevHard.Term, g.prevHard.Vote
	if hs := g.hardState(); hs != g.prevHard {
		rd.HardState = hs
		rd.MustSync = hs.Term != g.prevHard.Term || hs.Vote != g.prevHard.Vote
		g.prevHard = hs
	}
	rd.Snapshot = g.log.unstable.nextSnapshot()
	rd.Entries = g.log.unstable.nextEntries()
	g.log.unstable.acceptInProgress()
	if rd.Snapshot != nil || len(rd.Entries) > 0 {
		rd.MustSync = true
	}
	rd.CommittedEntries = g.log.nextCommittedEnts()
	if n := len(rd.CommittedEntries); n > 0 {
		g.log.applying = rd.CommittedEntries[n-1].Index
	}
	rd.Messages, g.msgs = g.msgs, nil
	rd.MessagesAfterPersist, g.msgsAfterPersist = g.msgsAfterPersist, nil
	if g.role == Leader && !rd.HardState.IsEmpty() && (rd.HardState.Term != prevTerm || rd.HardState.Vote != prevVote) {
		// NB: a leader sends nothing before its term is durable. A sole
		// voter wins in Campaign itself, with no vote round trip to wait
		// for the persist; had its MsgApps left at once, a crash losing
		// the term would let it lead that term again with different
		// entries at the same indexes.
		rd.MessagesAfterPersist = append(rd.Messages, rd.MessagesAfterPersist...)
		rd.Messages = nil
	}
	rd.ReadStates, rd.DroppedReads = g.reads.takeResults()
	if g.role != Leader {
		g.reads.release() // a deposed leader's queue, once its drops are out
	}
	return rd
}

// Advance acknowledges rd: its snapshot and entries are durable, its
// messages sent, its committed entries applied. Membership changes among
// the committed entries take effect here.
func (g *Group) Advance(rd Ready) {
	if rd.Snapshot != nil {
		i := rd.Snapshot.Metadata.Index
		g.log.unstable.stableSnapTo(i)
		g.log.applied = max(g.log.applied, i)
		g.log.applying = max(g.log.applying, i)
	}
	if n := len(rd.Entries); n > 0 {
		e := rd.Entries[n-1]
		g.log.unstable.stableTo(e.Index, e.Term)
		if g.role == Leader {
			g.selfPersisted(g.log.stableLastIndex())
		}
	}
	for i := range rd.CommittedEntries {
		g.applied(&rd.CommittedEntries[i])
	}
	g.maybeAutoLeave()
}

// selfPersisted counts the leader's own durable log towards commit.
func (g *Group) selfPersisted(stable raftpb.Index) {
	pr := g.trk.get(g.id)
	if pr == nil || !pr.maybeUpdate(stable) {
		return
	}
	if prev := g.log.committed; g.maybeCommit() && g.sendsCommit(prev) {
		g.bcastPending = true
	}
}

// applied records that e was applied, taking membership changes into
// effect.
func (g *Group) applied(e *raftpb.Entry) {
	if e.Index <= g.log.applied {
		return
	}
	g.log.applied = e.Index
	if g.role == Leader {
		g.uncommittedBytes -= min(g.uncommittedBytes, uint64(len(e.Data)))
	}
	if e.Type == raftpb.EntryConfChange {
		g.applyConfChangeEntry(e)
	}
}
