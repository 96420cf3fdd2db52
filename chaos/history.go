package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects the history of one run: operations with their call
// and return times, and the faults injected, as porcupine annotations.
// It is safe for concurrent use.
type Recorder struct {
	start time.Time

	mu struct {
		sync.Mutex
		ops []porcupine.Operation
		// open indexes the operations of unknown outcome, whose return
		// is set to the end of the run by Finish.
		open     []int
		clients  int
		events   []porcupine.Annotation
		counts   Counts
		lastSeen map[string]string
	}
}

// Counts are a run's figures.
type Counts struct {
	OK      int // operations with a known outcome in the history
	Unknown int // writes of unknown outcome in the history
	GaveUp  int // operations that found no node to serve them in their budget (not in the history)
	Faults  int // faults injected
}

// NewRecorder starts a history; times are measured from now.
func NewRecorder() *Recorder {
	r := &Recorder{start: time.Now()}
	r.mu.lastSeen = map[string]string{}
	return r
}

// Now is the time since the recorder started, in nanoseconds.
func (r *Recorder) Now() int64 { return time.Since(r.start).Nanoseconds() }

// NewClient returns an unused client ID. A client whose write ended
// unknown takes a new one: its open operation may still be in flight.
func (r *Recorder) NewClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.clients++
	return r.mu.clients - 1
}

// Record adds a finished operation (for an unknown outcome, Return is
// ignored).
func (r *Recorder) Record(op porcupine.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, out := op.Input.(Input), op.Output.(Output)
	if out.Unknown {
		r.mu.open = append(r.mu.open, len(r.mu.ops))
		r.mu.counts.Unknown++
	} else {
		r.mu.counts.OK++
		r.mu.lastSeen[in.Key] = seenAfter(in, out)
	}
	r.mu.ops = append(r.mu.ops, op)
}

// seenAfter is the key's value after an operation that returned out.
func seenAfter(in Input, out Output) string {
	switch {
	case in.Kind == OpGet, in.Kind == OpIncr:
		return out.Value
	case in.Kind == OpDel:
		return ""
	case in.Kind == OpSet, out.Applied:
		return in.Value
	case in.Get && (in.Kind == OpSetNX) == (out.Value == ""):
		return in.Value // NX GET got nil (it wrote), XX GET got a value (it wrote)
	default:
		return out.Value
	}
}

// LastSeen is a recent value of key ("" absent), to aim conditional
// writes where they may succeed.
func (r *Recorder) LastSeen(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.lastSeen[key]
}

// GaveUp counts an operation that never reached a node.
func (r *Recorder) GaveUp() {
	r.mu.Lock()
	r.mu.counts.GaveUp++
	r.mu.Unlock()
}

// Event records a fault (or its end) at the current time.
func (r *Recorder) Event(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.counts.Faults++
	r.mu.events = append(r.mu.events, porcupine.Annotation{Tag: "nemesis", Start: r.Now(),
		Description: fmt.Sprintf(format, args...), BackgroundColor: "#f4c7c3"})
}

// Counts returns the figures so far.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.counts
}

// Finish gives every operation of unknown outcome the current time as its
// return, and returns the history and the fault annotations.
func (r *Recorder) Finish() ([]porcupine.Operation, []porcupine.Annotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.Now()
	for _, i := range r.mu.open {
		r.mu.ops[i].Return = end
	}
	ops := append([]porcupine.Operation(nil), r.mu.ops...)
	events := append([]porcupine.Annotation(nil), r.mu.events...)
	return ops, events
}

// Verdict is the outcome of a porcupine check.
type Verdict struct {
	Result porcupine.CheckResult
	// Took is how long the check ran.
	Took time.Duration
	// HTMLPath is porcupine's visualization, written when the history is
	// not linearizable; TextPath holds the operations of each key that
	// fails on its own, and the faults.
	HTMLPath, TextPath string
}

// Check checks history against Model. When it is not linearizable it
// writes porcupine's visualization (with the faults as annotations) and a
// text listing of the failing keys into dir.
func Check(history []porcupine.Operation, events []porcupine.Annotation, timeout time.Duration, dir string) (Verdict, error) {
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(Model(), history, timeout)
	v := Verdict{Result: res, Took: time.Since(start)}
	if res != porcupine.Illegal {
		return v, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return v, err
	}
	info.AddAnnotations(events)
	v.HTMLPath = filepath.Join(dir, "history.html")
	if err := porcupine.VisualizePath(Model(), info, v.HTMLPath); err != nil {
		return v, fmt.Errorf("chaos: writing %s: %w", v.HTMLPath, err)
	}
	v.TextPath = filepath.Join(dir, "history.txt")
	if err := os.WriteFile(v.TextPath, []byte(illegalKeys(history, events)), 0o644); err != nil {
		return v, fmt.Errorf("chaos: writing %s: %w", v.TextPath, err)
	}
	return v, nil
}

// illegalKeys lists, for each key whose history alone is not
// linearizable, its operations in call order, then every fault.
func illegalKeys(history []porcupine.Operation, events []porcupine.Annotation) string {
	ms := func(ns int64) string { return fmt.Sprintf("%9.1fms", float64(ns)/1e6) }
	var b strings.Builder
	for _, part := range partition(history) {
		if porcupine.CheckOperations(Model(), part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		fmt.Fprintf(&b, "key %s is not linearizable:\n", part[0].Input.(Input).Key)
		for _, op := range part {
			fmt.Fprintf(&b, "  client %3d [%s, %s] %s\n", op.ClientId, ms(op.Call), ms(op.Return), Describe(op.Input, op.Output))
		}
	}
	b.WriteString("faults:\n")
	for _, e := range events {
		fmt.Fprintf(&b, "  %s %s\n", ms(e.Start), e.Description)
	}
	return b.String()
}
