package wal

import (
	"sort"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// span locates a run of consecutive entries of one group stored in one
// entries record. The index keeps one span per record rather than one
// location per entry, which is what keeps it small: 24 bytes per record,
// and a record usually holds all of a group's entries of one round.
//
// Invariant: a group's spans are in index order, each starting right
// after the previous one ends (first + count); count may be below the
// record's entry count when a later append replaced the tail.
type span struct {
	first raftpb.Index
	seg   uint32
	off   uint32
	size  uint32
	count uint32
}

func (s span) last() raftpb.Index { return s.first + raftpb.Index(s.count) - 1 }

// termRun says that entries from first on (up to the next run) have term.
type termRun struct {
	first raftpb.Index
	term  raftpb.Term
}

// group is the index's view of one Raft group.
//
// The durable fields change only in the writer goroutine under
// WAL.idx.mu (write-locked) once a write is synced, and are read under
// the read lock. The staged fields (s...) belong to the writer alone: they
// describe the log as it will be once everything validated so far is
// durable, and are what new batches are validated against.
type group struct {
	id     raftpb.GroupID
	exists bool
	// Invariant: compact <= last; entries compact+1..last are covered by
	// spans (the first span may start at or below compact).
	compact     raftpb.Index
	compactTerm raftpb.Term
	last        raftpb.Index
	hs          raftpb.HardState
	spans       []span
	terms       []termRun
	// baseSeg is the segment holding the group's first record since it
	// was created or last rewritten: every record the group needs lies
	// in baseSeg or later, so segments below every live group's baseSeg
	// can be deleted.
	baseSeg uint32
	// liveBytes sums the sizes of the records the spans point at.
	liveBytes int64

	sExists  bool
	sCompact raftpb.Index
	sLast    raftpb.Index
}

// loc is where a record landed: segment and offset.
type loc struct {
	seg uint32
	off uint32
}

// touch makes g exist, taking seg as its base if it is new.
func (g *group) touch(seg uint32) {
	if !g.exists {
		g.exists = true
		g.baseSeg = seg
	}
}

// applyAppend records that entries first..first+count-1 (term runs
// terms, which start at or before max(first, compact+1)) now live in the
// record at l of size bytes. It is total: recovery replays records whose
// earlier history may have been deleted with old segments (see gc.go), so
// entries at or below the compaction point are skipped, and an append
// past last+1 restarts the log just before it.
func (g *group) applyAppend(l loc, size uint32, first raftpb.Index, count uint32, terms []termRun) int64 {
	g.touch(l.seg)
	end := first + raftpb.Index(count) - 1
	if end <= g.compact {
		return 0
	}
	from := max(first, g.compact+1)
	if from > g.last+1 {
		g.resetAt(from - 1)
	}
	var freed int64
	if from <= g.last {
		freed = g.truncateFrom(from)
	}
	g.spans = append(g.spans, span{first: first, seg: l.seg, off: l.off, size: size, count: count})
	g.liveBytes += int64(size)
	for i, r := range terms {
		if i+1 < len(terms) && terms[i+1].first <= from {
			continue
		}
		g.terms = addTerm(g.terms, max(r.first, from), r.term)
	}
	g.last = end
	return int64(size) - freed
}

// resetAt empties the log and puts the compaction point at idx with an
// unknown term.
func (g *group) resetAt(idx raftpb.Index) {
	for _, s := range g.spans {
		g.liveBytes -= int64(s.size)
	}
	g.spans, g.terms = g.spans[:0], g.terms[:0]
	g.compact, g.compactTerm, g.last = idx, 0, idx
}

// truncateFrom drops entries from idx on and returns the bytes freed.
func (g *group) truncateFrom(idx raftpb.Index) int64 {
	var freed int64
	i := sort.Search(len(g.spans), func(i int) bool { return g.spans[i].last() >= idx })
	if i < len(g.spans) && g.spans[i].first < idx {
		g.spans[i].count = uint32(idx - g.spans[i].first)
		i++
	}
	for _, s := range g.spans[i:] {
		freed += int64(s.size)
	}
	g.liveBytes -= freed
	clear(g.spans[i:])
	g.spans = g.spans[:i]
	j := sort.Search(len(g.terms), func(j int) bool { return g.terms[j].first >= idx })
	g.terms = g.terms[:j]
	if idx <= g.last {
		g.last = idx - 1
	}
	return freed
}

// applyCompact moves the compaction point to idx (a no-op unless it moves
// forward) and returns the change in live bytes.
func (g *group) applyCompact(seg uint32, idx raftpb.Index, term raftpb.Term) int64 {
	g.touch(seg)
	if idx <= g.compact {
		return 0
	}
	before := g.liveBytes
	if idx >= g.last {
		g.resetAt(idx)
		g.compactTerm = term
		return g.liveBytes - before
	}
	g.compact, g.compactTerm = idx, term
	i := sort.Search(len(g.spans), func(i int) bool { return g.spans[i].last() > idx })
	for _, s := range g.spans[:i] {
		g.liveBytes -= int64(s.size)
	}
	g.spans = compactSlice(g.spans, i)
	j := sort.Search(len(g.terms), func(j int) bool { return g.terms[j].first > idx+1 })
	if j > 0 {
		g.terms[j-1].first = idx + 1
		g.terms = compactSlice(g.terms, j-1)
	}
	return g.liveBytes - before
}

// compactSlice drops s[:i], copying the rest down when the dropped prefix
// dominates so that a long-lived group's slices do not grow forever.
func compactSlice[T any](s []T, i int) []T {
	if i == 0 {
		return s
	}
	if i >= len(s)-i {
		n := copy(s, s[i:])
		clear(s[n:])
		return s[:n]
	}
	return s[i:]
}

// applyRemove forgets the group and returns the change in live bytes. It
// leaves the staged fields alone: they belong to the writer goroutine.
func (g *group) applyRemove() int64 {
	freed := g.liveBytes
	clear(g.spans)
	g.spans, g.terms = g.spans[:0], g.terms[:0]
	g.exists, g.compact, g.compactTerm, g.last = false, 0, 0, 0
	g.hs, g.baseSeg, g.liveBytes = raftpb.HardState{}, 0, 0
	return -freed
}

// term returns the term of entry idx, which must be in compact..last.
func (g *group) term(idx raftpb.Index) raftpb.Term {
	if idx == g.compact {
		return g.compactTerm
	}
	j := sort.Search(len(g.terms), func(j int) bool { return g.terms[j].first > idx })
	if j == 0 {
		return 0
	}
	return g.terms[j-1].term
}
