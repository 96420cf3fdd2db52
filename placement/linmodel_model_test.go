package placement

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestLinModel checks the model itself on small histories: it must
// accept legal ones and reject a stale read, a lost increment, a CAS
// that succeeded against the wrong value, and a read of a value that an
// unknown write could only have made after the read returned.
func TestLinModel(t *testing.T) {
	op := func(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	put := func(k, v string) linInput { return linInput{kind: linPut, key: k, value: v} }
	get := func(k string) linInput { return linInput{kind: linGet, key: k} }
	incr := func(k string) linInput { return linInput{kind: linIncr, key: k} }
	cas := func(k, from, to string) linInput { return linInput{kind: linCAS, key: k, expected: from, value: to} }
	val := func(v string) linOutput { return linOutput{ok: true, value: v} }
	for _, tc := range []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"put then get", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("a"), val("x"))}, true},
		{"stale read", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("a"), val(""))}, false},
		{"concurrent read may miss", []porcupine.Operation{op(0, 0, 3, put("a", "x"), val("")), op(1, 1, 2, get("a"), val(""))}, true},
		{"increments", []porcupine.Operation{op(0, 0, 1, incr("n"), val("1")), op(1, 2, 3, incr("n"), val("2")), op(0, 4, 5, get("n"), val("2"))}, true},
		{"lost increment", []porcupine.Operation{op(0, 0, 1, incr("n"), val("1")), op(1, 2, 3, incr("n"), val("2")), op(0, 4, 5, get("n"), val("1"))}, false},
		{"unknown increment applied", []porcupine.Operation{op(0, 0, 9, incr("n"), linOutput{unknown: true}), op(1, 2, 3, get("n"), val("1"))}, true},
		{"unknown increment not applied", []porcupine.Operation{op(0, 0, 9, incr("n"), linOutput{unknown: true}), op(1, 2, 3, get("n"), val(""))}, true},
		{"cas ok", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "x", "y"), linOutput{ok: true}), op(0, 4, 5, get("a"), val("y"))}, true},
		{"cas ok on wrong value", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "z", "y"), linOutput{ok: true})}, false},
		{"cas failed reports current", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, cas("a", "z", "y"), linOutput{value: "x"})}, true},
		{"read before unknown put", []porcupine.Operation{op(0, 5, 9, put("a", "x"), linOutput{unknown: true}), op(1, 0, 1, get("a"), val("x"))}, false},
		{"keys are independent", []porcupine.Operation{op(0, 0, 1, put("a", "x"), val("")), op(1, 2, 3, get("b"), val(""))}, true},
	} {
		if got := porcupine.CheckOperations(linModel(), tc.ops); got != tc.legal {
			t.Errorf("%s: linearizable %v, want %v", tc.name, got, tc.legal)
		}
	}
}
