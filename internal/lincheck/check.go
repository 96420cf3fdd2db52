package lincheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckTimeout bounds porcupine's search; a search that runs out is
// inconclusive and logged, not failed.
const CheckTimeout = time.Minute

// Check checks history against the model. On a violation it writes
// porcupine's visualization (with events as annotations) to htmlPath, or,
// if that is empty, to a file in the system's temporary directory named
// after the test and the seed (it outlives the test), logs the operations
// of every key whose history alone is not linearizable, and fails the test
// naming the seed and the file.
func Check(t testing.TB, seed uint64, history []porcupine.Operation, events []porcupine.Annotation, htmlPath string) {
	t.Helper()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(Model(), history, CheckTimeout)
	t.Logf("porcupine: %v in %v (%d operations)", res, time.Since(start).Round(time.Millisecond), len(history))
	switch res {
	case porcupine.Unknown:
		t.Logf("seed %d: the check timed out after %v: inconclusive", seed, CheckTimeout)
	case porcupine.Illegal:
		if htmlPath == "" {
			name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
			htmlPath = filepath.Join(os.TempDir(), fmt.Sprintf("lincheck-%s-%d.html", name, seed))
		}
		info.AddAnnotations(events)
		if err := porcupine.VisualizePath(Model(), info, htmlPath); err != nil {
			t.Errorf("writing the history: %v", err)
		}
		logIllegalKeys(t, history, events)
		t.Fatalf("seed %d: the history is not linearizable; see %s", seed, htmlPath)
	}
}

// logIllegalKeys logs, for each key whose history alone is not
// linearizable, its operations in call order, and then the events.
func logIllegalKeys(t testing.TB, history []porcupine.Operation, events []porcupine.Annotation) {
	ms := func(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
	for _, part := range Partition(history) {
		if porcupine.CheckOperations(Model(), part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		var b strings.Builder
		for _, op := range part {
			fmt.Fprintf(&b, "\n  client %2d [%s, %s] %s", op.ClientId, ms(op.Call), ms(op.Return), Describe(op.Input, op.Output))
		}
		t.Logf("key %s is not linearizable:%s", part[0].Input.(Input).Key, b.String())
	}
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %s %s: %s", ms(e.Start), e.Tag, e.Description)
	}
	t.Logf("events:%s", b.String())
}
