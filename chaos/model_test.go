package chaos

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestModel shows the checker can fail: histories a linearizable store
// cannot produce are rejected, the ones it can are accepted.
func TestModel(t *testing.T) {
	op := func(client int, in Input, call, ret int64, out Output) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	set := func(v string) Input { return Input{Kind: OpSet, Key: "k", Value: v} }
	setGet := func(v string) Input { return Input{Kind: OpSet, Key: "k", Value: v, Get: true} }
	nx := func(v string, get bool) Input { return Input{Kind: OpSetNX, Key: "k", Value: v, Get: get} }
	xx := func(v string, get bool) Input { return Input{Kind: OpSetXX, Key: "k", Value: v, Get: get} }
	get := Input{Kind: OpGet, Key: "k"}
	del := Input{Kind: OpDel, Key: "k"}
	incr := Input{Kind: OpIncr, Key: "k"}
	val := func(v string) Output { return Output{Value: v} }
	ok, none := Output{Applied: true}, Output{}
	unknown := Output{Unknown: true}
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		legal   bool
	}{
		{"read your write", []porcupine.Operation{op(0, set("a"), 0, 1, ok), op(0, get, 2, 3, val("a"))}, true},
		{"stale read after a newer write returned", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, set("b"), 2, 3, ok), op(1, get, 4, 5, val("a"))}, false},
		{"a concurrent read sees either", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, set("b"), 2, 6, ok), op(1, get, 3, 4, val("a"))}, true},
		{"SET GET returns the old value", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, setGet("b"), 2, 3, val("a")), op(0, get, 4, 5, val("b"))}, true},
		{"SET GET cannot return another value", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, setGet("b"), 2, 3, val("z"))}, false},
		{"NX writes an absent key", []porcupine.Operation{op(0, nx("a", false), 0, 1, ok), op(0, get, 2, 3, val("a"))}, true},
		{"NX cannot write a present key", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, nx("b", false), 2, 3, ok)}, false},
		{"NX GET reports the value that stopped it", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, nx("b", true), 2, 3, val("a")), op(0, get, 4, 5, val("a"))}, true},
		{"XX cannot write an absent key", []porcupine.Operation{op(0, xx("a", false), 0, 1, ok)}, false},
		{"XX GET on a present key", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, xx("b", true), 2, 3, val("a")), op(0, get, 4, 5, val("b"))}, true},
		{"DEL reports whether the key existed", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, del, 2, 3, ok), op(0, del, 4, 5, none), op(0, get, 6, 7, none)}, true},
		{"DEL of an absent key cannot return 1", []porcupine.Operation{op(0, del, 0, 1, ok)}, false},
		{"INCR counts from absent", []porcupine.Operation{
			op(0, incr, 0, 1, val("1")), op(1, incr, 2, 3, val("2")), op(0, get, 4, 5, val("2"))}, true},
		{"INCR cannot lose an increment", []porcupine.Operation{
			op(0, incr, 0, 1, val("1")), op(1, incr, 2, 3, val("1"))}, false},
		{"INCR refuses a string", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(0, incr, 2, 3, Output{NotInteger: true}), op(0, get, 4, 5, val("a"))}, true},
		{"INCR cannot refuse an integer", []porcupine.Operation{
			op(0, incr, 0, 1, val("1")), op(0, incr, 2, 3, Output{NotInteger: true})}, false},
		{"an unknown write may have happened", []porcupine.Operation{
			op(0, set("a"), 0, 100, unknown), op(1, get, 4, 5, val("a"))}, true},
		{"an unknown write may not have happened", []porcupine.Operation{
			op(0, set("a"), 0, 100, unknown), op(1, get, 4, 5, none)}, true},
		{"an unknown write cannot be undone", []porcupine.Operation{
			op(0, set("a"), 0, 100, unknown), op(1, get, 4, 5, val("a")), op(1, get, 6, 7, none)}, false},
		{"an unknown INCR counts once at most", []porcupine.Operation{
			op(0, incr, 0, 100, unknown), op(1, incr, 4, 5, val("3"))}, false},
		{"keys are independent", []porcupine.Operation{
			op(0, set("a"), 0, 1, ok), op(1, Input{Kind: OpGet, Key: "other"}, 2, 3, none)}, true},
	} {
		if got := porcupine.CheckOperations(Model(), tc.history); got != tc.legal {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.legal)
		}
	}
}

// TestCheckWritesVisualization: a violation leaves the HTML
// visualization and the text listing behind.
func TestCheckWritesVisualization(t *testing.T) {
	history := []porcupine.Operation{
		{ClientId: 0, Input: Input{Kind: OpSet, Key: "k", Value: "a"}, Call: 0, Output: Output{Applied: true}, Return: 10},
		{ClientId: 1, Input: Input{Kind: OpGet, Key: "k"}, Call: 20, Output: Output{}, Return: 30},
	}
	dir := t.TempDir()
	v, err := Check(history, []porcupine.Annotation{{Tag: "nemesis", Start: 5, Description: "kill -9 node 1"}}, time.Minute, dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Result != porcupine.Illegal {
		t.Fatalf("result %v, want Illegal", v.Result)
	}
	for _, p := range []string{v.HTMLPath, v.TextPath} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 || filepath.Dir(p) != dir {
			t.Errorf("%s: %v", p, err)
		}
	}
}
