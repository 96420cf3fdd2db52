package lincheck

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestModel shows the checker can fail: it rejects a stale read, a lost
// increment, a CAS that succeeded against the wrong value, a failed CAS
// that misreports the value, an unknown write that is undone, and a read
// of a value an unknown write could only have made after the read
// returned; and it accepts what a correct store can produce.
func TestModel(t *testing.T) {
	op := func(client int, call, ret int64, in Input, out Output) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	put := func(k, v string) Input { return Input{Kind: Put, Key: k, Value: v} }
	get := func(k string) Input { return Input{Kind: Get, Key: k} }
	incr := func(k string) Input { return Input{Kind: Incr, Key: k} }
	cas := func(k, from, to string) Input { return Input{Kind: CAS, Key: k, Expected: from, Value: to} }
	val := func(v string) Output { return Output{OK: true, Value: v} }
	unknown := Output{Unknown: true}
	for _, tc := range []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"put then get", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("a"), val("x"))}, true},
		{"stale read", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("a"), val(""))}, false},
		{"stale read after a second write", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")),
			op(0, 2, 3, put("a", "y"), val("")), op(1, 4, 5, get("a"), val("x"))}, false},
		{"concurrent read may miss", []porcupine.Operation{op(0, 0, 3, put("a", "x"), val("")), op(1, 1, 2, get("a"), val(""))}, true},
		{"increments", []porcupine.Operation{op(0, 0, 1, incr("n"), val("1")), op(1, 2, 3, incr("n"), val("2")), op(0, 4, 5, get("n"), val("2"))}, true},
		{"lost increment", []porcupine.Operation{op(0, 0, 1, incr("n"), val("1")), op(1, 2, 3, incr("n"), val("2")), op(0, 4, 5, get("n"), val("1"))}, false},
		{"unknown increment applied", []porcupine.Operation{op(0, 0, 9, incr("n"), unknown), op(1, 2, 3, get("n"), val("1"))}, true},
		{"unknown increment not applied", []porcupine.Operation{op(0, 0, 9, incr("n"), unknown), op(1, 2, 3, get("n"), val(""))}, true},
		{"cas ok", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "x", "y"), Output{OK: true}), op(0, 4, 5, get("a"), val("y"))}, true},
		{"cas ok on wrong value", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "z", "y"), Output{OK: true})}, false},
		{"cas failed reports current", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "z", "y"), Output{Value: "x"})}, true},
		{"cas failed misreports", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "z", "y"), Output{Value: "w"})}, false},
		{"cas delete", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(0, 2, 3, cas("a", "x", ""), Output{OK: true}), op(0, 4, 5, get("a"), val(""))}, true},
		{"unknown write may have happened", []porcupine.Operation{op(0, 0, 100, put("a", "x"), unknown),
			op(1, 4, 5, get("a"), val("x")), op(1, 6, 7, get("a"), val("x"))}, true},
		{"unknown write may not have happened", []porcupine.Operation{op(0, 0, 100, put("a", "x"), unknown), op(1, 4, 5, get("a"), val(""))}, true},
		{"an unknown write cannot be undone", []porcupine.Operation{op(0, 0, 100, put("a", "x"), unknown),
			op(1, 4, 5, get("a"), val("x")), op(1, 6, 7, get("a"), val(""))}, false},
		{"read before unknown put", []porcupine.Operation{op(0, 5, 9, put("a", "x"), unknown), op(1, 0, 1, get("a"), val("x"))}, false},
		{"keys are independent", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("b"), val(""))}, true},
	} {
		if got := porcupine.CheckOperations(Model(), tc.ops); got != tc.legal {
			t.Errorf("%s: linearizable %v, want %v", tc.name, got, tc.legal)
		}
	}
}

// TestHistory: unknown operations return at the end, LastSeen follows
// reads, writes and failed CASes, and Counts counts both kinds.
func TestHistory(t *testing.T) {
	h := NewHistory()
	c := h.NewClient()
	if c2 := h.NewClient(); c2 != c+1 {
		t.Fatalf("client IDs %d, %d", c, c2)
	}
	rec := func(in Input, out Output) {
		h.Record(porcupine.Operation{ClientId: c, Input: in, Call: h.Now(), Output: out, Return: h.Now()})
	}
	rec(Input{Kind: Put, Key: "a", Value: "x"}, Output{OK: true})
	rec(Input{Kind: CAS, Key: "a", Expected: "q", Value: "y"}, Output{Value: "z"})
	if got := h.LastSeen("a"); got != "z" {
		t.Fatalf("LastSeen after a failed CAS = %q, want what it found", got)
	}
	rec(Input{Kind: Put, Key: "a", Value: "w"}, Output{Unknown: true})
	if got := h.LastSeen("a"); got != "z" {
		t.Fatalf("LastSeen after an unknown put = %q, want it unchanged", got)
	}
	rec(Input{Kind: Get, Key: "a"}, Output{OK: true, Value: "w"})
	if got := h.LastSeen("a"); got != "w" {
		t.Fatalf("LastSeen after a get = %q", got)
	}
	h.Event("nemesis", "partition %d", 1)
	ops := h.Finish()
	if ok, unknown := h.Counts(); ok != 3 || unknown != 1 {
		t.Fatalf("Counts = %d, %d; want 3, 1", ok, unknown)
	}
	if ops[2].Return < ops[3].Return {
		t.Fatalf("unknown op returns at %d, before the last op's %d", ops[2].Return, ops[3].Return)
	}
	if ev := h.Events(); len(ev) != 1 || ev[0].Description != "partition 1" {
		t.Fatalf("events %+v", ev)
	}
}
