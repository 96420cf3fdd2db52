package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// emptyAppend says when maybeSendAppend sends a MsgApp without entries.
type emptyAppend uint8

const (
	// emptyNever: only entries are worth a message.
	emptyNever emptyAppend = iota
	// emptyIfCommitBehind: also when the follower has not been told the
	// current commit index.
	emptyIfCommitBehind
	// emptyAlways: also to check where the follower's log stands (its
	// answer repairs a pipeline whose messages were lost).
	emptyAlways
)

// bcastAppend sends every follower what it is missing: new entries, or an
// empty MsgApp if only the commit index moved. Called once per Ready, so a
// follower gets one batch for all proposals made since the last Ready.
func (g *Group) bcastAppend() {
	g.bcastPending = false
	for i := range g.trk.progress {
		if id := g.trk.progress[i].id; id != g.id {
			g.maybeSendAppend(id, emptyIfCommitBehind)
		}
	}
}

// maybeSendAppend sends follower `to` the entries from its Next, as many
// MsgApps as the in-flight window allows; `empty` says when a MsgApp
// without entries is sent. It reports whether anything was sent.
func (g *Group) maybeSendAppend(to raftpb.NodeID, empty emptyAppend) bool {
	pr := g.trk.get(to)
	if pr == nil {
		return false
	}
	sent := false
	last := g.log.lastIndex()
	for !pr.paused() {
		prevIndex := pr.next - 1
		prevTerm, err := g.log.term(prevIndex)
		if err != nil {
			return g.sendSnapshot(to, pr) || sent
		}
		var ents []raftpb.Entry
		if pr.next <= last {
			ents, err = g.log.slice(pr.next, last+1, g.cfg.MaxMsgBytes)
			if err != nil {
				return g.sendSnapshot(to, pr) || sent
			}
		}
		if len(ents) == 0 && (sent || empty == emptyNever || empty == emptyIfCommitBehind && pr.sentCommit >= g.log.committed) {
			return sent
		}
		commit := g.log.committed
		lastSent := prevIndex + raftpb.Index(len(ents))
		g.send(raftpb.Message{Type: raftpb.MsgApp, To: to, Index: prevIndex, LogTerm: prevTerm, Entries: ents, Commit: commit})
		pr.sentCommit = max(pr.sentCommit, min(commit, lastSent))
		pr.sentEntries(lastSent, raftpb.EntriesSize(ents))
		sent = true
		if len(ents) == 0 || pr.state != StateReplicate {
			return true
		}
	}
	return sent
}

// sendSnapshot sends a snapshot to a follower whose next entries are
// compacted away.
func (g *Group) sendSnapshot(to raftpb.NodeID, pr *progress) bool {
	if !pr.recentActive {
		return false // it may be down; wait until it answers something
	}
	snap, err := g.cfg.Storage.Snapshot()
	if err != nil || snap.IsEmpty() {
		// ErrSnapshotTemporarilyUnavailable: try again on a later
		// heartbeat response.
		return false
	}
	pr.becomeSnapshot(snap.Metadata.Index)
	g.send(raftpb.Message{Type: raftpb.MsgSnap, To: to, Snapshot: &snap})
	return true
}

// bcastHeartbeat sends every follower a heartbeat carrying the current
// read round.
func (g *Group) bcastHeartbeat() {
	for i := range g.trk.progress {
		pr := &g.trk.progress[i]
		id := pr.id
		if id == g.id {
			continue
		}
		// A follower may not learn a commit index past what it is known to
		// hold: its log beyond Match may still diverge.
		commit := min(pr.match, g.log.committed)
		if g.cfg.LazyCommit {
			// The heartbeat tells the follower the commit index: no
			// empty append for it on the answer (handleHeartbeatResp).
			pr.sentCommit = max(pr.sentCommit, commit)
		}
		pr.matchAtLastBeat = pr.match
		g.send(raftpb.Message{Type: raftpb.MsgHeartbeat, To: id, Commit: commit, Context: g.reads.seq})
	}
}

// maybeCommit raises the commit index to what a quorum holds, counting only
// entries of the current term. It reports whether commit moved.
func (g *Group) maybeCommit() bool {
	if !g.log.maybeCommit(g.trk.committed(), g.term) {
		return false
	}
	g.unblockReads()
	return true
}

// sendsCommit reports whether the commit index, just moved from prev,
// goes to the followers at once (in the next Ready's broadcast) rather
// than with the next message to each (Config.LazyCommit). NB: a
// membership change among the newly committed entries always goes at
// once: a member it removes hears nothing more from the leader once the
// leader applies it, and would never learn that it left the group.
// (pendingConfIndex covers every change a new leader may have inherited:
// it starts at the leader's last index, and the first commit of a term
// covers all of them.)
func (g *Group) sendsCommit(prev raftpb.Index) bool {
	return !g.cfg.LazyCommit || g.pendingConfIndex > prev && g.pendingConfIndex <= g.log.committed
}

// handleAppendResp handles a follower's answer to a MsgApp or MsgSnap.
func (g *Group) handleAppendResp(m raftpb.Message, pr *progress) {
	pr.recentActive = true
	pr.inactiveTicks = 0
	if m.Reject {
		g.handleAppendReject(m, pr)
		return
	}
	if m.Index > g.log.lastIndex() {
		return // acknowledges entries we never had: malformed or stale term
	}
	if !pr.maybeUpdate(m.Index) {
		return
	}
	switch {
	case pr.state == StateProbe:
		pr.becomeReplicate()
	case pr.state == StateSnapshot && pr.match+1 >= g.log.firstIndex():
		pr.becomeProbe()
		pr.becomeReplicate()
	case pr.state == StateReplicate:
		pr.inflights.freeLE(m.Index)
	}
	if prev := g.log.committed; g.maybeCommit() && g.sendsCommit(prev) {
		g.bcastPending = true
	} else {
		g.maybeSendAppend(m.From, emptyNever)
	}
	if m.From == g.leadTransferee && pr.match == g.log.lastIndex() {
		g.sendTimeoutNow(m.From)
	}
}

// handleAppendReject backs Next off using the follower's hint: the leader
// skips to the last index at which its log has a term no higher than the
// follower's, one whole term per round trip at worst.
func (g *Group) handleAppendReject(m raftpb.Message, pr *progress) {
	next := m.RejectHint
	if m.LogTerm > 0 {
		next, _ = g.log.findConflictByTerm(m.RejectHint, m.LogTerm)
	}
	if !pr.maybeDecrTo(m.Index, next) {
		return
	}
	if pr.state == StateReplicate {
		pr.becomeProbe()
	}
	g.maybeSendAppend(m.From, emptyAlways)
}

// handleHeartbeatResp marks the follower alive, resumes a paused probe,
// and counts its acknowledgement of a read round. A follower that is behind
// and acknowledged nothing since the heartbeat was sent gets an empty
// MsgApp: its messages may have been lost, and its answer (a rejection)
// restarts replication from where it really is.
func (g *Group) handleHeartbeatResp(m raftpb.Message, pr *progress) {
	pr.recentActive = true
	pr.inactiveTicks = 0
	pr.probeSent = false
	stalled := pr.match == pr.matchAtLastBeat
	switch {
	case pr.match < g.log.lastIndex() && stalled:
		if pr.state == StateReplicate && pr.inflights.full() {
			// NB: a full window pauses sending, so the repair below would
			// send nothing if every message in it was lost: start over
			// from Match instead.
			pr.becomeProbe()
		}
		g.maybeSendAppend(m.From, emptyAlways)
	case pr.match < g.log.lastIndex() || pr.sentCommit < g.log.committed:
		g.maybeSendAppend(m.From, emptyIfCommitBehind)
	}
	g.readAcked(pr, m.Context)
}

// Propose appends data as a new entry. It returns the entry's index and
// term: the entry is committed if the entry applied at that index has that
// term, and was lost if another term shows up there.
func (g *Group) Propose(data []byte) (raftpb.Index, raftpb.Term, error) {
	return g.propose(raftpb.EntryNormal, data)
}

// ProposeStore appends data as an entry of type EntryStore: a command for
// the application's own bookkeeping, which Raft handles like Propose's.
func (g *Group) ProposeStore(data []byte) (raftpb.Index, raftpb.Term, error) {
	return g.propose(raftpb.EntryStore, data)
}

func (g *Group) propose(typ raftpb.EntryType, data []byte) (raftpb.Index, raftpb.Term, error) {
	g.wake()
	switch {
	case g.role != Leader:
		return 0, 0, &NotLeaderError{Group: g.group, Leader: g.lead, Term: g.term}
	case g.leadTransferee != raftpb.None:
		return 0, 0, ErrTransferInProgress
	case g.trk.get(g.id) == nil:
		return 0, 0, ErrProposalDropped // removed from the group
	}
	size := uint64(len(data))
	if g.uncommittedBytes > 0 && g.uncommittedBytes+size > g.cfg.MaxUncommittedBytes {
		return 0, 0, ErrProposalDropped
	}
	g.uncommittedBytes += size
	idx := g.log.append(raftpb.Entry{Term: g.term, Index: g.log.lastIndex() + 1, Type: typ, Data: data})
	g.bcastPending = true
	return idx, g.term, nil
}

// ProposeConfChange proposes a membership change. It is validated against
// the current configuration first; only one change may be pending.
func (g *Group) ProposeConfChange(cc raftpb.ConfChange) (raftpb.Index, raftpb.Term, error) {
	if g.role == Leader {
		if g.pendingConfIndex > g.log.applied {
			return 0, 0, ErrConfChangePending
		}
		if _, err := ApplyConfChange(g.trk.cs, cc); err != nil {
			return 0, 0, err
		}
	}
	idx, term, err := g.propose(raftpb.EntryConfChange, cc.Marshal())
	if err == nil {
		g.pendingConfIndex = idx
	}
	return idx, term, err
}

// applyConfChangeEntry puts a committed membership change into effect. An
// entry that does not decode or apply is skipped, the same way on every
// replica.
func (g *Group) applyConfChangeEntry(e *raftpb.Entry) {
	cc, err := raftpb.UnmarshalConfChange(e.Data)
	if err != nil {
		return
	}
	cs, err := ApplyConfChange(g.trk.cs, cc)
	if err != nil {
		return
	}
	g.trk.setConfig(cs, g.log.lastIndex()+1, &g.cfg, g.role == Leader)
	if g.role != Leader {
		return
	}
	if !g.trk.isVoter(g.id) {
		g.stepDownRemoved()
		return
	}
	// The new quorum may move commit, and new members need a first
	// probe. NB: send now instead of marking a broadcast for the next
	// Ready: most changes leave nothing to send, and a marked broadcast
	// would make HasReady promise a Ready that turns out empty.
	g.maybeCommit()
	g.bcastAppend()
	if g.leadTransferee != raftpb.None && !g.trk.isVoter(g.leadTransferee) {
		g.leadTransferee = raftpb.None
	}
}

// stepDownRemoved: a leader no longer a voter hands leadership to the most
// up-to-date voter and steps down.
func (g *Group) stepDownRemoved() {
	var best raftpb.NodeID
	var bestMatch raftpb.Index
	for i := range g.trk.progress {
		if pr := &g.trk.progress[i]; !pr.isLearner && pr.id != g.id && (best == raftpb.None || pr.match > bestMatch) {
			best, bestMatch = pr.id, pr.match
		}
	}
	if best != raftpb.None && bestMatch == g.log.lastIndex() {
		g.sendTimeoutNow(best)
	}
	g.becomeFollower(g.term, raftpb.None)
}

// maybeAutoLeave proposes leaving a joint configuration that asked to be
// left automatically, once the entry that entered it is applied.
func (g *Group) maybeAutoLeave() {
	if g.role != Leader || !g.trk.cs.AutoLeave || g.pendingConfIndex > g.log.applied {
		return
	}
	// A refusal (a transfer in progress) is retried on a later tick.
	if idx, _, err := g.propose(raftpb.EntryConfChange, raftpb.ConfChange{}.Marshal()); err == nil {
		g.pendingConfIndex = idx
	}
}
