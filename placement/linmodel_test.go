package placement

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// The model the moves-under-load test checks its history against: one
// register per key (every operation touches one key, so histories are
// partitioned by key). A register holds a string, "" meaning absent.
// Register keys take gets, puts and CASes, and every value written is
// unique, so a read names the write it saw; counter keys take gets and
// increments (a decimal integer, absent reads as 0).
//
// It follows shard's linmodel_test.go (test files of another package
// cannot be imported) and adds increments.

type linKind uint8

const (
	linGet linKind = iota
	linPut
	linCAS
	linIncr
)

type linInput struct {
	kind linKind
	key  string
	// value: what a put or CAS writes ("" for a CAS: delete).
	value string
	// expected: what a CAS requires ("": absent).
	expected string
}

type linOutput struct {
	// unknown: a write whose effect is open (it timed out, or the node
	// answering it lost the shard). It returns at the end of the test and
	// Step lets it take effect; if it did not, it can be placed last.
	unknown bool
	// ok: a CAS succeeded.
	ok bool
	// value: what a get read, what a failed CAS found, or the new value of
	// an increment ("": absent).
	value string
}

func counterValue(s string) int64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1 << 62 // a register value on a counter key: no increment can match it
	}
	return v
}

func linStep(state, input, output any) (bool, any) {
	st, in, out := state.(string), input.(linInput), output.(linOutput)
	switch in.kind {
	case linGet:
		return out.value == st, st
	case linPut:
		return true, in.value
	case linIncr:
		next := strconv.FormatInt(counterValue(st)+1, 10)
		return out.unknown || out.value == next, next
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
	case linIncr:
		s = fmt.Sprintf("incr(%s) -> %s", in.key, showValue(out.value))
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

func linModel() porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return "" },
		Step:              linStep,
		Partition:         linPartition,
		DescribeOperation: linDescribe,
		DescribeState:     func(state any) string { return showValue(state.(string)) },
	}
}
