package rafttest

import (
	"fmt"
	"slices"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// checkReady checks one Ready against the contract of raftgroup.Ready and
// updates the checker's view of n's log.
func (s *Simulator) checkReady(n *node, rd *raftgroup.Ready) error {
	oldCommit := n.hs.Commit
	if err := checkHardState(n, rd); err != nil {
		return err
	}
	if rd.Snapshot != nil {
		if err := s.readySnapshot(n, rd.Snapshot); err != nil {
			return err
		}
	}
	if err := s.readyEntries(n, rd.Entries, oldCommit); err != nil {
		return err
	}
	if err := checkCommitted(n, rd.CommittedEntries); err != nil {
		return err
	}
	if err := checkMessages(n, rd); err != nil {
		return err
	}
	if err := s.readyReads(n, rd); err != nil {
		return err
	}
	if n.g.Role() == raftgroup.Leader {
		return s.chk.completeness(n.id, n.g.Term(), &n.log)
	}
	return nil
}

// checkHardState: the term never decreases, the vote never changes within
// a term, the commit index never decreases, and MustSync is set whenever
// the term, vote, entries or snapshot change.
func checkHardState(n *node, rd *raftgroup.Ready) error {
	needSync := len(rd.Entries) > 0 || rd.Snapshot != nil
	if hs := rd.HardState; !hs.IsEmpty() {
		prev := n.hs
		switch {
		case hs.Term < prev.Term:
			return fmt.Errorf("n%d: hard state term went from %d to %d", n.id, prev.Term, hs.Term)
		case hs.Term == prev.Term && prev.Vote != raftpb.None && hs.Vote != prev.Vote:
			return fmt.Errorf("n%d: vote changed from n%d to n%d within term %d", n.id, prev.Vote, hs.Vote, hs.Term)
		case hs.Commit < prev.Commit:
			return fmt.Errorf("n%d: commit went from %d back to %d", n.id, prev.Commit, hs.Commit)
		}
		needSync = needSync || hs.Term != prev.Term || hs.Vote != prev.Vote
		n.hs = hs
	}
	if needSync && !rd.MustSync {
		return fmt.Errorf("n%d: Ready changes durable state but MustSync is false", n.id)
	}
	return nil
}

// readySnapshot checks that a snapshot to install is committed state,
// newer than what n applied, and resets n's log to it.
func (s *Simulator) readySnapshot(n *node, snap *raftpb.Snapshot) error {
	md := snap.Metadata
	if md.Index < n.nextApply {
		return fmt.Errorf("n%d: snapshot %d is not newer than the entries already handed out to apply (up to %d)", n.id, md.Index, n.nextApply-1)
	}
	if md.Index > n.hs.Commit {
		return fmt.Errorf("n%d: snapshot %d beyond the hard state's commit %d", n.id, md.Index, n.hs.Commit)
	}
	if md.Index > s.chk.lastCommitted() || s.chk.canon[md.Index].entry.Term != md.Term {
		return fmt.Errorf("n%d: snapshot %d/t%d is not a committed entry", n.id, md.Index, md.Term)
	}
	n.log.reset(shadowEntry{index: md.Index, term: md.Term, chain: s.chk.canon[md.Index].chain})
	n.nextApply = md.Index + 1
	return nil
}

// readyEntries checks entries to persist: contiguous, terms within the
// current term, never rewriting a committed entry; and adds them to n's
// log.
func (s *Simulator) readyEntries(n *node, ents []raftpb.Entry, oldCommit raftpb.Index) error {
	for i := range ents {
		e := &ents[i]
		if e.Term > n.hs.Term {
			return fmt.Errorf("n%d: entry %d has term %d beyond the hard state's term %d", n.id, e.Index, e.Term, n.hs.Term)
		}
		if e.Index <= oldCommit {
			if old, ok := n.log.at(e.Index); ok && old.term != e.Term {
				return fmt.Errorf("n%d: entry %d/t%d overwrites committed %d/t%d", n.id, e.Index, e.Term, e.Index, old.term)
			}
		}
	}
	added, err := n.log.append(ents)
	if err != nil {
		return fmt.Errorf("n%d: %w", n.id, err)
	}
	// Registered when durable (see checker.register).
	n.unsynced = append([]shadowEntry(nil), added...)
	return nil
}

// checkCommitted: committed entries follow the last ones handed out with
// no gap or repeat, are within the commit index and are in n's log.
func checkCommitted(n *node, ents []raftpb.Entry) error {
	for i := range ents {
		e := &ents[i]
		if e.Index != n.nextApply {
			return fmt.Errorf("n%d: committed entry %d handed out, expected %d (gap or repeat)", n.id, e.Index, n.nextApply)
		}
		if e.Index > n.hs.Commit {
			return fmt.Errorf("n%d: entry %d handed out to apply beyond commit %d", n.id, e.Index, n.hs.Commit)
		}
		if se, ok := n.log.at(e.Index); !ok || se.term != e.Term {
			return fmt.Errorf("n%d: committed entry %d/t%d is not in its log (last %d)", n.id, e.Index, e.Term, n.log.last())
		}
		n.nextApply++
	}
	return nil
}

// checkMessages: messages come from n, for its group, never to itself;
// votes, vote grants and append acknowledgements wait for the persist.
func checkMessages(n *node, rd *raftgroup.Ready) error {
	for k, msgs := range [][]raftpb.Message{rd.Messages, rd.MessagesAfterPersist} {
		for _, m := range msgs {
			if m.From != n.id || m.Group != simGroup || m.To == n.id || m.To == raftpb.None {
				return fmt.Errorf("n%d: bad envelope on %v", n.id, m)
			}
			if k == 0 && needsPersist(m) {
				return fmt.Errorf("n%d: %v must wait for the persist but is in Messages", n.id, m)
			}
		}
	}
	return nil
}

func needsPersist(m raftpb.Message) bool {
	switch m.Type {
	case raftpb.MsgVote:
		return true
	case raftpb.MsgVoteResp:
		return !m.Reject
	case raftpb.MsgAppResp:
		return !m.Reject && m.Index > 0
	}
	return false
}

// readyReads records confirmed and dropped reads. A confirmed read index
// must cover every write acknowledged before the read began.
func (s *Simulator) readyReads(n *node, rd *raftgroup.Ready) error {
	for _, rs := range rd.ReadStates {
		i := slices.Index(n.asked, rs.ID)
		if i < 0 {
			return fmt.Errorf("n%d: read state for unknown or answered request %d", n.id, rs.ID)
		}
		n.asked = slices.Delete(n.asked, i, i+1)
		r := s.reads[rs.ID]
		if rs.Index > n.hs.Commit {
			return fmt.Errorf("n%d: read %d confirmed at %d beyond commit %d", n.id, rs.ID, rs.Index, n.hs.Commit)
		}
		if rs.Index < r.floor {
			return fmt.Errorf("linearizability: n%d confirmed read %d at index %d, but %d was applied before the read began", n.id, rs.ID, rs.Index, r.floor)
		}
		r.index = rs.Index
		n.confirmed = append(n.confirmed, rs.ID)
	}
	for _, id := range rd.DroppedReads {
		i := slices.Index(n.asked, id)
		if i < 0 {
			return fmt.Errorf("n%d: dropped unknown or answered read %d", n.id, id)
		}
		n.asked = slices.Delete(n.asked, i, i+1)
		delete(s.reads, id)
	}
	return nil
}

// serveReads answers confirmed reads whose index n has applied, checking
// the value against the committed history: it is the value as of the
// state machine's applied index, and no older than the last write to the
// key acknowledged before the read began.
func (s *Simulator) serveReads(n *node) error {
	keep := n.confirmed[:0]
	for _, id := range n.confirmed {
		r := s.reads[id]
		if r.index > n.sm.live.applied {
			keep = append(keep, id)
			continue
		}
		got := n.sm.live.kv[r.key]
		if want := s.chk.valueAt(r.key, n.sm.live.applied); got != want {
			return fmt.Errorf("n%d: read %d of %s at applied %d returned %v, committed state there is %v", n.id, id, r.key, n.sm.live.applied, got, want)
		}
		if got.index < r.keyFloor {
			return fmt.Errorf("linearizability: n%d read %d of %s returned the write at %d, but the write at %d was acknowledged before the read began",
				n.id, id, r.key, got.index, r.keyFloor)
		}
		delete(s.reads, id)
		s.stats.Reads++
	}
	n.confirmed = keep
	return nil
}
