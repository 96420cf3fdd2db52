package raftgroup

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// raftLog is a replica's log: the durable part in Storage followed by the
// unstable part in memory, plus the commit and apply cursors.
//
// Invariant: applied <= applying <= committed <= lastIndex().
// Invariant: firstIndex()-1 <= applied (compacted entries were applied).
type raftLog struct {
	storage  Storage
	unstable unstable
	// committed is the highest index known to be committed by a quorum.
	committed raftpb.Index
	// applying is the highest index handed out in a Ready for applying.
	applying raftpb.Index
	// applied is the highest index the caller has applied (Advance).
	applied raftpb.Index
	// maxApplyingBytes bounds the committed entries handed out at once.
	maxApplyingBytes uint64
}

func newLog(storage Storage, maxApplyingBytes uint64) (*raftLog, error) {
	first, err := storage.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("raftgroup: storage first index: %w", err)
	}
	last, err := storage.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("raftgroup: storage last index: %w", err)
	}
	l := &raftLog{storage: storage, maxApplyingBytes: maxApplyingBytes}
	l.unstable.offset = last + 1
	l.unstable.offsetInProgress = last + 1
	l.committed = first - 1
	l.applying = first - 1
	l.applied = first - 1
	return l, nil
}

func (l *raftLog) firstIndex() raftpb.Index {
	if i, ok := l.unstable.maybeFirstIndex(); ok {
		return i
	}
	i, err := l.storage.FirstIndex()
	if err != nil {
		return 1 // NB: Storage promises not to fail here; stay safe if it does.
	}
	return i
}

func (l *raftLog) lastIndex() raftpb.Index {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		return 0
	}
	return i
}

// stableLastIndex is the last index known durable in Storage.
func (l *raftLog) stableLastIndex() raftpb.Index {
	if l.unstable.snapshot != nil {
		return 0
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		return 0
	}
	return min(i, l.unstable.offset-1)
}

func (l *raftLog) lastTerm() raftpb.Term {
	t, _ := l.term(l.lastIndex())
	return t
}

// term returns the term of entry i, or an error if i is out of range.
func (l *raftLog) term(i raftpb.Index) (raftpb.Term, error) {
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	if i+1 < l.firstIndex() {
		return 0, ErrCompacted
	}
	if i > l.lastIndex() {
		return 0, ErrUnavailable
	}
	return l.storage.Term(i)
}

func (l *raftLog) matchTerm(i raftpb.Index, t raftpb.Term) bool {
	gt, err := l.term(i)
	return err == nil && gt == t
}

// isUpToDate reports whether a log ending at (lasti, t) is at least as
// up-to-date as this one (Raft paper, 5.4.1).
func (l *raftLog) isUpToDate(lasti raftpb.Index, t raftpb.Term) bool {
	lt := l.lastTerm()
	return t > lt || (t == lt && lasti >= l.lastIndex())
}

// maybeAppend appends ents after (index, logTerm) if the log matches there,
// and advances commit to min(committed, last new index).
func (l *raftLog) maybeAppend(index raftpb.Index, logTerm raftpb.Term, committed raftpb.Index, ents []raftpb.Entry) (raftpb.Index, bool) {
	if !l.matchTerm(index, logTerm) {
		return 0, false
	}
	lastNew := index + raftpb.Index(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			// Only a faulty leader contradicts committed entries; keep
			// them and acknowledge nothing.
			return 0, false
		}
		l.unstable.truncateAndAppend(ents[ci-ents[0].Index:])
	}
	l.commitTo(min(committed, lastNew))
	return lastNew, true
}

// findConflict returns the index of the first entry of ents that is not in
// the log (a different term, or past the end), or 0 if all are present.
func (l *raftLog) findConflict(ents []raftpb.Entry) raftpb.Index {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= i whose term is <= t,
// with that term: the fast-backtracking hint (the leader can skip every
// entry of a term the follower does not have).
func (l *raftLog) findConflictByTerm(i raftpb.Index, t raftpb.Term) (raftpb.Index, raftpb.Term) {
	for ; i > 0; i-- {
		ot, err := l.term(i)
		if err != nil {
			return i, 0
		}
		if ot <= t {
			return i, ot
		}
	}
	return 0, 0
}

// append adds entries at the end (the leader's own proposals).
func (l *raftLog) append(ents ...raftpb.Entry) raftpb.Index {
	if len(ents) > 0 {
		l.unstable.truncateAndAppend(ents)
	}
	return l.lastIndex()
}

// commitTo raises commit to i, clamped to the last index.
func (l *raftLog) commitTo(i raftpb.Index) {
	i = min(i, l.lastIndex())
	if i > l.committed {
		l.committed = i
	}
}

// maybeCommit commits up to i if entry i is from term t (only entries of
// the leader's own term commit by counting replicas: paper figure 8).
func (l *raftLog) maybeCommit(i raftpb.Index, t raftpb.Term) bool {
	if i > l.committed && l.matchTerm(i, t) {
		l.commitTo(i)
		return true
	}
	return false
}

// slice returns entries [lo, hi) from storage and unstable, limited to
// maxBytes (at least one entry).
func (l *raftLog) slice(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, error) {
	if lo >= hi {
		return nil, nil
	}
	if lo < l.firstIndex() {
		return nil, ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		return nil, ErrUnavailable
	}
	var ents []raftpb.Entry
	if lo < l.unstable.offset {
		stored, err := l.storage.Entries(lo, min(hi, l.unstable.offset), maxBytes)
		if err != nil {
			return nil, err
		}
		if raftpb.Index(len(stored)) < min(hi, l.unstable.offset)-lo || hi <= l.unstable.offset {
			return stored, nil
		}
		ents = stored
	}
	if hi > l.unstable.offset {
		u := l.unstable.slice(max(lo, l.unstable.offset), hi)
		if len(ents) == 0 {
			ents = limitSize(u, maxBytes)
		} else {
			ents = appendLimited(ents, u, maxBytes)
		}
	}
	return ents, nil
}

// appendLimited appends from more to a fresh copy of ents while the total
// stays within maxBytes.
func appendLimited(ents, more []raftpb.Entry, maxBytes uint64) []raftpb.Entry {
	size := raftpb.EntriesSize(ents)
	out := append(make([]raftpb.Entry, 0, len(ents)+len(more)), ents...)
	for i := range more {
		size += more[i].Size()
		if size > maxBytes {
			break
		}
		out = append(out, more[i])
	}
	return out
}

// hasNextCommittedEnts reports whether committed entries wait to be handed
// out.
func (l *raftLog) hasNextCommittedEnts() bool {
	return l.unstable.snapshot == nil && l.applying < l.committed
}

// nextCommittedEnts returns committed entries not yet handed out.
func (l *raftLog) nextCommittedEnts() []raftpb.Entry {
	if !l.hasNextCommittedEnts() {
		return nil
	}
	lo := max(l.applying+1, l.firstIndex())
	ents, err := l.slice(lo, l.committed+1, l.maxApplyingBytes)
	if err != nil {
		return nil // NB: only possible if Storage misbehaves; retried next Ready.
	}
	return ents
}

func (l *raftLog) restore(s raftpb.Snapshot) {
	l.committed = s.Metadata.Index
	l.unstable.restore(s)
}
