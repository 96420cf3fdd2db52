package lincheck

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

// The operations.
const (
	Get Kind = iota
	Put
	CAS
	Incr
)

// Input is one client call.
type Input struct {
	Kind Kind
	Key  string
	// Value is what a put or CAS writes ("" for a CAS: delete).
	Value string
	// Expected is what a CAS requires ("": the key is absent).
	Expected string
}

// Output is what the call returned.
type Output struct {
	// Unknown: the call's effect is open (see the package doc).
	Unknown bool
	// OK: a CAS succeeded (puts, gets and increments that return are OK).
	OK bool
	// Value: what a get read, what a failed CAS found, or the new value of
	// an increment ("": absent).
	Value string
}

// CounterValue reads a counter register; a register value on a counter
// key gives a number no increment can produce.
func CounterValue(s string) int64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1 << 62
	}
	return v
}

// Step is the model's transition: whether output is what input returns in
// state, and the state after it.
func Step(state, input, output any) (bool, any) {
	st, in, out := state.(string), input.(Input), output.(Output)
	switch in.Kind {
	case Get:
		return out.Value == st, st
	case Put:
		return true, in.Value
	case Incr:
		next := strconv.FormatInt(CounterValue(st)+1, 10)
		return out.Unknown || out.Value == next, next
	case CAS:
		match := st == in.Expected
		switch {
		case out.Unknown:
			if match {
				return true, in.Value
			}
			return true, st
		case out.OK:
			return match, in.Value
		default:
			return !match && out.Value == st, st
		}
	}
	panic(fmt.Sprintf("lincheck: unknown operation kind %d", in.Kind))
}

// Partition splits a history by key, in key order.
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	return PartitionBy(history, func(input any) string { return input.(Input).Key })
}

// PartitionBy splits a history by the key that key reads off each
// operation's input, in key order: the partition of any per-key model
// (chaos's RESP model uses it too).
func PartitionBy(history []porcupine.Operation, key func(input any) string) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := key(op.Input)
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

// Describe renders an operation for porcupine's visualization.
func Describe(input, output any) string {
	in, out := input.(Input), output.(Output)
	var s string
	switch in.Kind {
	case Get:
		s = fmt.Sprintf("get(%s) -> %s", in.Key, showValue(out.Value))
	case Put:
		s = fmt.Sprintf("put(%s, %s)", in.Key, in.Value)
	case Incr:
		s = fmt.Sprintf("incr(%s) -> %s", in.Key, showValue(out.Value))
	case CAS:
		s = fmt.Sprintf("cas(%s, %s -> %s)", in.Key, showValue(in.Expected), showValue(in.Value))
		switch {
		case out.Unknown:
		case out.OK:
			s += " ok"
		default:
			s += " failed, was " + showValue(out.Value)
		}
	}
	if out.Unknown {
		s += " ?"
	}
	return s
}

// Model returns the per-key register model.
func Model() porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return "" },
		Step:              Step,
		Partition:         Partition,
		DescribeOperation: Describe,
		DescribeState:     func(state any) string { return showValue(state.(string)) },
	}
}
