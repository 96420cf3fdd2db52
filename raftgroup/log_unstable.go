package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// unstable holds the log entries (and at most one snapshot) that the core
// has accepted but that are not yet durable in Storage.
//
// Invariant: if snapshot != nil, offset == snapshot.Metadata.Index+1.
// Invariant: entries[i].Index == offset+i.
// Invariant: offset <= offsetInProgress <= offset+len(entries): entries
// below offsetInProgress were handed out in a Ready and await Advance.
type unstable struct {
	snapshot           *raftpb.Snapshot
	snapshotInProgress bool
	entries            []raftpb.Entry
	offset             raftpb.Index
	offsetInProgress   raftpb.Index
	// burst is how many entries the last Advance made stable all at once
	// (at most maxBurstHint): the capacity to give the next array, so a
	// leader appending proposals one by one allocates once per Ready
	// instead of doubling its way up. Only a size hint; the array itself
	// is released when it empties.
	burst int
}

// maxBurstHint bounds unstable.burst, so one large burst does not make
// every later small one allocate a large array.
const maxBurstHint = 1024

// maybeFirstIndex is the first index if a snapshot is pending.
func (u *unstable) maybeFirstIndex() (raftpb.Index, bool) {
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index + 1, true
	}
	return 0, false
}

// maybeLastIndex is the last index if there are unstable entries or a
// pending snapshot.
func (u *unstable) maybeLastIndex() (raftpb.Index, bool) {
	if n := len(u.entries); n > 0 {
		return u.offset + raftpb.Index(n) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index, true
	}
	return 0, false
}

// maybeTerm is the term of entry i if unstable knows it.
func (u *unstable) maybeTerm(i raftpb.Index) (raftpb.Term, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Metadata.Index == i {
			return u.snapshot.Metadata.Term, true
		}
		return 0, false
	}
	last, ok := u.maybeLastIndex()
	if !ok || i > last {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// nextEntries returns the entries not yet handed out for persistence.
func (u *unstable) nextEntries() []raftpb.Entry {
	k := int(u.offsetInProgress - u.offset)
	if k >= len(u.entries) {
		return nil
	}
	return u.entries[k:]
}

// nextSnapshot returns the snapshot if it is not yet handed out.
func (u *unstable) nextSnapshot() *raftpb.Snapshot {
	if u.snapshot == nil || u.snapshotInProgress {
		return nil
	}
	return u.snapshot
}

// acceptInProgress marks everything pending as handed out.
func (u *unstable) acceptInProgress() {
	if len(u.entries) > 0 {
		u.offsetInProgress = u.offset + raftpb.Index(len(u.entries))
	}
	if u.snapshot != nil {
		u.snapshotInProgress = true
	}
}

// stableTo drops entries up to i once they are durable, if entry i still
// has term t (a later append may have replaced it).
func (u *unstable) stableTo(i raftpb.Index, t raftpb.Term) {
	gt, ok := u.maybeTerm(i)
	if !ok || gt != t || i < u.offset {
		return
	}
	n := int(i + 1 - u.offset)
	if n == len(u.entries) {
		u.burst = min(n, maxBurstHint)
	}
	u.entries = u.entries[n:]
	u.offset = i + 1
	u.offsetInProgress = max(u.offsetInProgress, u.offset)
	u.shrink()
}

// shrink releases the backing array once most of it is unused, so a long
// burst does not pin memory in an idle group.
func (u *unstable) shrink() {
	if len(u.entries) == 0 {
		u.entries = nil
	} else if c := cap(u.entries); len(u.entries)*4 < c && c > 64 {
		u.entries = append([]raftpb.Entry(nil), u.entries...)
	}
}

func (u *unstable) stableSnapTo(i raftpb.Index) {
	if u.snapshot != nil && u.snapshot.Metadata.Index == i {
		u.snapshot = nil
		u.snapshotInProgress = false
	}
}

func (u *unstable) restore(s raftpb.Snapshot) {
	u.offset = s.Metadata.Index + 1
	u.offsetInProgress = u.offset
	u.entries = nil
	u.snapshot = &s
	u.snapshotInProgress = false
}

// truncateAndAppend appends ents, replacing any conflicting suffix.
// NB: when it truncates it copies, because MsgApps already handed out may
// still reference the old backing array.
func (u *unstable) truncateAndAppend(ents []raftpb.Entry) {
	from := ents[0].Index
	switch {
	case from == u.offset+raftpb.Index(len(u.entries)):
		if len(u.entries) == 0 && cap(u.entries) < len(ents) {
			u.entries = make([]raftpb.Entry, 0, max(len(ents), u.burst))
		}
		u.entries = append(u.entries, ents...)
	case from <= u.offset:
		u.offset = from
		u.offsetInProgress = u.offset
		u.entries = append([]raftpb.Entry(nil), ents...)
	default:
		keep := u.entries[:from-u.offset]
		u.entries = append(append(make([]raftpb.Entry, 0, len(keep)+len(ents)), keep...), ents...)
		u.offsetInProgress = min(u.offsetInProgress, from)
	}
}

// slice returns entries [lo, hi), which must be within unstable.
func (u *unstable) slice(lo, hi raftpb.Index) []raftpb.Entry {
	return u.entries[lo-u.offset : hi-u.offset : hi-u.offset]
}
