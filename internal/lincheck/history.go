package lincheck

import (
	"fmt"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// History records a concurrent run for porcupine. It is safe for
// concurrent use.
type History struct {
	start time.Time

	mu         sync.Mutex
	ops        []porcupine.Operation
	unknown    []int // indexes of ops whose Return is the end of the run
	nextClient int
	events     []porcupine.Annotation
	lastSeen   map[string]string
	ok         int
}

// NewHistory starts a history; times count from now.
func NewHistory() *History {
	return &History{start: time.Now(), lastSeen: map[string]string{}}
}

// Now is the time to record as an operation's Call or Return.
func (h *History) Now() int64 { return time.Since(h.start).Nanoseconds() }

// NewClient returns the next client ID.
func (h *History) NewClient() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextClient++
	return h.nextClient - 1
}

// Record adds a finished operation (or one of unknown outcome, whose
// Return Finish sets).
func (h *History) Record(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in, out := op.Input.(Input), op.Output.(Output)
	switch {
	case out.Unknown:
		h.unknown = append(h.unknown, len(h.ops))
	case in.Kind == Get, in.Kind == Incr, in.Kind == CAS && !out.OK:
		h.ok++
		h.lastSeen[in.Key] = out.Value
	default:
		h.ok++
		h.lastSeen[in.Key] = in.Value
	}
	h.ops = append(h.ops, op)
}

// Event annotates the history (a fault, a move) at the current time.
func (h *History) Event(tag, format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, porcupine.Annotation{Tag: tag, Start: h.Now(), Description: fmt.Sprintf(format, args...)})
}

// Events returns the annotations recorded so far.
func (h *History) Events() []porcupine.Annotation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Annotation(nil), h.events...)
}

// LastSeen is the latest value a recorded operation read or wrote at key
// ("" if none): what a CAS can expect with a fair chance.
func (h *History) LastSeen(key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastSeen[key]
}

// Counts returns how many operations returned and how many are of
// unknown outcome.
func (h *History) Counts() (ok, unknown int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, len(h.unknown)
}

// Last returns the latest recorded operation.
func (h *History) Last() porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ops[len(h.ops)-1]
}

// Finish gives every operation of unknown outcome the end of the run as
// its return time and returns the history.
func (h *History) Finish() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.Now()
	for _, i := range h.unknown {
		h.ops[i].Return = end
	}
	return append([]porcupine.Operation(nil), h.ops...)
}
