package wal

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// undo remembers a group's staged shape before one op of the batch being
// validated changed it, so a rejected batch leaves no trace.
type undo struct {
	g       *group
	exists  bool
	compact raftpb.Index
	last    raftpb.Index
}

// validate checks b against the staged shape of every group it touches
// (the log as it will be once everything accepted before b is durable)
// and stages b's effect. On error nothing of b stays staged. It runs in
// the writer goroutine, which alone mutates the group map, so it reads the
// map without a lock and takes the write lock only to insert.
func (w *WAL) validate(b *Batch) error {
	w.wr.undo = w.wr.undo[:0]
	for i := range b.ops {
		o := &b.ops[i]
		g := w.idx.groups[o.group]
		if g == nil {
			w.idx.Lock()
			g = w.groupLocked(o.group)
			w.idx.Unlock()
		}
		o.g = g
		w.wr.undo = append(w.wr.undo, undo{g: g, exists: g.sExists, compact: g.sCompact, last: g.sLast})
		if err := stage(g, o); err != nil {
			for j := len(w.wr.undo) - 1; j >= 0; j-- {
				u := w.wr.undo[j]
				u.g.sExists, u.g.sCompact, u.g.sLast = u.exists, u.compact, u.last
			}
			return err
		}
	}
	return nil
}

// stage applies one op to g's staged shape, or explains why it cannot.
func stage(g *group, o *op) error {
	if !g.sExists {
		g.sCompact, g.sLast = 0, 0
	}
	switch o.kind {
	case recEntries:
		if o.first <= g.sCompact || o.first > g.sLast+1 {
			return fmt.Errorf("%w: group %d: append at %d, but compaction point is %d and last index %d",
				ErrInvalidBatch, o.group, o.first, g.sCompact, g.sLast)
		}
		g.sLast = o.first + raftpb.Index(o.count) - 1
	case recCompact:
		if o.first < g.sCompact {
			return fmt.Errorf("%w: group %d: compaction point %d below %d", ErrInvalidBatch, o.group, o.first, g.sCompact)
		}
		g.sCompact = o.first
		g.sLast = max(g.sLast, o.first)
	case recRemove:
		g.sExists = false
		g.sCompact, g.sLast = 0, 0
		return nil
	}
	g.sExists = true
	return nil
}
