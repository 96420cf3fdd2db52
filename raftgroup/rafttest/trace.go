package rafttest

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// eventKind names what happened in one simulation step.
type eventKind uint8

const (
	evDeliver eventKind = iota + 1
	evDrop
	evReady
	evPersist
	evTick
	evPropose
	evRead
	evConfChange
	evTransfer
	evCompact
	evCrash
	evRestart
	evPartition
	evHeal
	evWake
	evNote
)

// event is one entry of the trace. It is kept unformatted (formatting every
// event would cost more than simulating it) and rendered only on failure.
type event struct {
	step, tick int
	kind       eventKind
	node       raftpb.NodeID
	msg        raftpb.Message
	a, b, c, d uint64
	hs         raftpb.HardState
	note       string
}

// trace keeps the last events in a ring.
//
// Invariant: len(ring) <= capacity; next is the slot written next.
type trace struct {
	ring []event
	next int
	full bool
}

func newTrace(capacity int) trace {
	return trace{ring: make([]event, max(capacity, 1))}
}

func (t *trace) add(e event) {
	t.ring[t.next] = e
	t.next++
	if t.next == len(t.ring) {
		t.next, t.full = 0, true
	}
}

// lines renders the ring oldest first.
func (t *trace) lines() []string {
	var out []string
	start, n := 0, t.next
	if t.full {
		start, n = t.next, len(t.ring)
	}
	for i := range n {
		out = append(out, t.ring[(start+i)%len(t.ring)].String())
	}
	return out
}

func (e event) String() string {
	p := fmt.Sprintf("step %d tick %d: ", e.step, e.tick)
	switch e.kind {
	case evDeliver:
		return p + "deliver " + e.msg.String()
	case evDrop:
		return p + "lost " + e.msg.String() + " (" + e.note + ")"
	case evReady, evPersist:
		verb := "ready"
		if e.kind == evPersist {
			verb = "persisted"
		}
		return p + fmt.Sprintf("n%d %s: hs=%d/%d/%d ents=[%d,%d] apply=[%d,%d] %s", e.node, verb,
			e.hs.Term, e.hs.Vote, e.hs.Commit, e.a, e.b, e.c, e.d, e.note)
	case evTick:
		return p + "tick"
	case evPropose:
		return p + fmt.Sprintf("n%d propose %s -> %s", e.node, e.note, fmtIndexTerm(e.a, e.b))
	case evRead:
		return p + fmt.Sprintf("n%d read#%d %s", e.node, e.a, e.note)
	case evConfChange:
		return p + fmt.Sprintf("n%d conf change %s", e.node, e.note)
	case evTransfer:
		return p + fmt.Sprintf("n%d transfer to n%d: %s", e.node, e.a, e.note)
	case evCompact:
		return p + fmt.Sprintf("n%d snapshot at %d, compact to %d", e.node, e.a, e.b)
	case evCrash:
		return p + fmt.Sprintf("n%d CRASH (%s)", e.node, e.note)
	case evRestart:
		return p + fmt.Sprintf("n%d restart applied=%d %s", e.node, e.a, e.note)
	case evPartition:
		return p + "partition " + e.note
	case evHeal:
		return p + "heal: " + e.note
	case evWake:
		return p + fmt.Sprintf("n%d wake (%s)", e.node, e.note)
	}
	return p + e.note
}

func fmtIndexTerm(i, t uint64) string {
	if i == 0 {
		return "rejected"
	}
	return fmt.Sprintf("%d/t%d", i, t)
}
