package shard

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"
)

// The register model the linearizability tests check histories against:
// one register per key (histories are partitioned by key, every operation
// touches one key). A register holds a string; "" means absent, and every
// written value is non-empty and unique, so a read names the write it saw.

type linKind uint8

const (
	linGet linKind = iota
	linPut
	linCAS
)

// linInput is one client call.
type linInput struct {
	kind linKind
	key  string
	// value is what a put or CAS writes ("" for a CAS: delete).
	value string
	// expected is what a CAS requires ("": the key is absent).
	expected string
}

// linOutput is what the call returned.
type linOutput struct {
	// unknown: the call failed in a way that leaves its effect open (a
	// write that timed out or whose node closed). The operation is
	// recorded as returning at the end of the test, and Step accepts it
	// whether or not it took effect: if it did not, it can be placed last.
	unknown bool
	// ok: a CAS succeeded (puts and gets that return are ok).
	ok bool
	// value: what a get read, or the current value a failed CAS reported
	// ("": absent).
	value string
}

func linStep(state, input, output any) (bool, any) {
	st, in, out := state.(string), input.(linInput), output.(linOutput)
	switch in.kind {
	case linGet:
		return out.value == st, st
	case linPut:
		return true, in.value
	case linCAS:
		match := st == in.expected
		switch {
		case out.unknown:
			if match {
				return true, in.value
			}
			return true, st
		case out.ok:
			return match, in.value
		default:
			return !match && out.value == st, st
		}
	}
	panic(fmt.Sprintf("linStep: unknown operation kind %d", in.kind))
}

func linPartition(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(linInput).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

func showValue(v string) string {
	if v == "" {
		return "∅"
	}
	return v
}

func linDescribe(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	var s string
	switch in.kind {
	case linGet:
		s = fmt.Sprintf("get(%s) -> %s", in.key, showValue(out.value))
	case linPut:
		s = fmt.Sprintf("put(%s, %s)", in.key, in.value)
	case linCAS:
		s = fmt.Sprintf("cas(%s, %s -> %s)", in.key, showValue(in.expected), showValue(in.value))
		switch {
		case out.unknown:
		case out.ok:
			s += " ok"
		default:
			s += " failed, was " + showValue(out.value)
		}
	}
	if out.unknown {
		s += " ?"
	}
	return s
}

// linModel returns the per-key register model.
func linModel() porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return "" },
		Step:              linStep,
		Partition:         linPartition,
		DescribeOperation: linDescribe,
		DescribeState:     func(state any) string { return showValue(state.(string)) },
	}
}
