package shard

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// The replica's log tail: the Raft core asks its storage again for what
// the replica's own rounds have just written.
//
// Under load nearly every Term and Entries call is about the last few
// entries: a follower checks the term of the entry before a new append
// (its own last entry), a leader the term of what it last sent, and both
// read back, a round or two after writing them, the entries that just
// committed. The WAL answers those from its tail cache, but each call takes
// the WAL's index lock, binary-searches the group's records and decodes a
// copy of them (together 7.7% of a loaded store's CPU at 1,024 shards).
// The replica itself handed those entries to the WAL, so it keeps a copy
// of them until they are applied and answers from it.
//
// The tail holds no more than the entries not yet applied, plus the last
// applied one (its term is asked for when a follower is up to date), and
// never more than maxTailEntries or maxTailBytes; anything else goes to
// the WAL as before. A quiesced replica drops it (settle), so idle
// replicas keep nothing.
//
// Slices handed out alias the tail's array, and may outlive the round (a
// MsgApp waiting in the transport), so the tail never writes over an
// element it has handed out: a conflicting append takes a new array, and
// trimming only moves the start.

const (
	// maxTailEntries bounds the entries a replica's tail keeps.
	maxTailEntries = 128
	// maxTailBytes bounds the summed Data length of a replica's tail.
	maxTailBytes = 128 << 10
	// minTailCap is the smallest array the tail allocates (entries).
	minTailCap = 8
)

// appended records ents, which the replica's round made durable in the
// WAL; refresh has already read the log's new bounds. A snapshot in the
// same round (snap) replaced the whole log before ents.
func (s *raftStorage) appended(ents []raftpb.Entry, snap bool) {
	if snap {
		s.dropTail()
	}
	if len(ents) == 0 {
		return
	}
	first, last := ents[0].Index, ents[len(ents)-1].Index
	if last != s.last || first < s.first {
		// Not what the WAL now holds (cannot happen while the round
		// protocol holds): keep nothing rather than something wrong.
		s.dropTail()
		return
	}
	switch {
	case len(s.tail) == 0 || first > s.tail[len(s.tail)-1].Index+1 || first < s.tail[0].Index:
		s.dropTail()
	case first <= s.tail[len(s.tail)-1].Index:
		// The new entries replace a suffix: copy what stays into a new
		// array, since slices handed out may still hold the old one.
		keep := s.tail[:first-s.tail[0].Index]
		s.tail = append(make([]raftpb.Entry, 0, len(keep)+len(ents)), keep...)
		s.tailBytes = dataBytes(s.tail)
	}
	if cap(s.tail)-len(s.tail) < len(ents) {
		// NB: room for several rounds: trimming moves the tail's start
		// along its array, and a plain append, growing from what is left,
		// allocated again almost every round.
		grown := make([]raftpb.Entry, len(s.tail), max(2*(len(s.tail)+len(ents)), minTailCap))
		copy(grown, s.tail)
		s.tail = grown
	}
	s.tail = append(s.tail, ents...)
	s.tailBytes += dataBytes(ents)
	s.boundTail()
}

// trimTail drops the entries before applied: they have been applied, and
// nothing but a lagging follower's append asks for them again.
func (s *raftStorage) trimTail(applied raftpb.Index) {
	n := 0
	for n < len(s.tail)-1 && s.tail[n].Index < applied {
		n++
	}
	s.cutTail(n)
}

// boundTail drops the oldest entries beyond the tail's bounds.
func (s *raftStorage) boundTail() {
	n := max(len(s.tail)-maxTailEntries, 0)
	left := s.tailBytes - dataBytes(s.tail[:n])
	for n < len(s.tail)-1 && left > maxTailBytes {
		left -= len(s.tail[n].Data)
		n++
	}
	s.cutTail(n)
}

// cutTail drops the tail's first n entries. NB: it reslices without
// clearing them; the array is given up on the next append that outgrows
// it, or by dropTail.
func (s *raftStorage) cutTail(n int) {
	if n == 0 {
		return
	}
	s.tailBytes -= dataBytes(s.tail[:n])
	s.tail = s.tail[n:]
	if len(s.tail) == 0 {
		s.dropTail()
	}
}

// dropTail forgets the whole tail.
func (s *raftStorage) dropTail() {
	s.tail, s.tailBytes = nil, 0
}

// fitTail keeps the tail within the log's bounds after they were reread
// (a compaction moves first; only the replica's own appends move last).
func (s *raftStorage) fitTail() {
	if len(s.tail) == 0 {
		return
	}
	if s.tail[len(s.tail)-1].Index != s.last {
		s.dropTail()
		return
	}
	n := 0
	for n < len(s.tail) && s.tail[n].Index < s.first {
		n++
	}
	s.cutTail(n)
}

// tailTerm returns the term of entry i if the tail holds it.
func (s *raftStorage) tailTerm(i raftpb.Index) (raftpb.Term, bool) {
	if len(s.tail) == 0 || i < s.tail[0].Index || i > s.last {
		return 0, false
	}
	return s.tail[i-s.tail[0].Index].Term, true
}

// tailEntries returns the entries [lo, hi) within maxBytes, as
// raftgroup.Storage's Entries does, if the tail holds them all. The slice
// is capped: an append to it copies.
func (s *raftStorage) tailEntries(lo, hi raftpb.Index, maxBytes uint64) ([]raftpb.Entry, bool) {
	if len(s.tail) == 0 || lo < s.tail[0].Index || hi > s.last+1 || lo >= hi {
		return nil, false
	}
	t0 := s.tail[0].Index
	ents := s.tail[lo-t0 : hi-t0 : hi-t0]
	size := ents[0].Size()
	for i := 1; i < len(ents); i++ {
		if size += ents[i].Size(); size > maxBytes {
			return ents[:i:i], true
		}
	}
	return ents, true
}

func dataBytes(ents []raftpb.Entry) int {
	n := 0
	for i := range ents {
		n += len(ents[i].Data)
	}
	return n
}
