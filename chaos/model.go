package chaos

import (
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"

	"github.com/flotilladb/flotilla/internal/lincheck"
)

// The model a history is checked against: one register per key, reached
// through the Redis commands the workload sends (every operation names one
// key, so histories are partitioned by key). A register holds a string;
// "" means absent. Every value a SET writes is non-empty and unique, so a
// read names the write it saw; INCR writes decimal integers, which repeat.
//
// NB: the in-process tests of shard and placement share another model,
// internal/lincheck (get, put, CAS, increment over the Go API). This one
// covers the RESP commands, whose semantics differ (SET's NX, XX and GET
// options, DEL's count), so it stays here.

// OpKind is the command an operation sent.
type OpKind uint8

// The commands of the workload.
const (
	OpGet   OpKind = iota // GET key
	OpSet                 // SET key value [GET]
	OpSetNX               // SET key value NX [GET]
	OpSetXX               // SET key value XX [GET]
	OpDel                 // DEL key
	OpIncr                // INCR key
)

// Input is one command as a client sent it.
type Input struct {
	Kind  OpKind
	Key   string
	Value string // what SET writes
	// Get: the SET carried the GET option, so its reply is the value the
	// key held before (or, for NX and XX, the value that stopped it).
	Get bool
}

// Output is what the command returned.
type Output struct {
	// Unknown: the command failed in a way that leaves its effect open (a
	// timeout, a connection lost after the command was sent). Such an
	// operation is recorded as returning at the end of the run, and Step
	// accepts it whether or not it took effect: if it did not, it can be
	// placed after everything else, where nobody sees it.
	Unknown bool
	// Applied: SET NX or XX without GET wrote (OK rather than nil); DEL
	// deleted a key (it returned 1).
	Applied bool
	// Value: what GET read, what SET ... GET returned, or INCR's result
	// ("" for nil).
	Value string
	// NotInteger: INCR answered that the value is not an integer.
	NotInteger bool
}

// step is the model's transition: whether output is what input returns in
// state, and the state after it.
func step(state, input, output any) (bool, any) {
	st, in, out := state.(string), input.(Input), output.(Output)
	switch in.Kind {
	case OpGet:
		return out.Value == st, st
	case OpSet:
		return out.Unknown || !in.Get || out.Value == st, in.Value
	case OpSetNX:
		return condSet(st, in, out, st == "")
	case OpSetXX:
		return condSet(st, in, out, st != "")
	case OpDel:
		return out.Unknown || out.Applied == (st != ""), ""
	case OpIncr:
		return incrStep(st, out)
	}
	panic(fmt.Sprintf("chaos: unknown operation kind %d", in.Kind))
}

// condSet is SET NX or XX: it writes when cond holds. With GET the reply
// is the old value either way; without it, OK (applied) or nil.
func condSet(st string, in Input, out Output, cond bool) (bool, any) {
	next := st
	if cond {
		next = in.Value
	}
	switch {
	case out.Unknown:
		return true, next
	case in.Get:
		return out.Value == st, next
	default:
		return out.Applied == cond, next
	}
}

// incrStep is INCR: an absent key counts as 0; a value that is not a
// decimal int64 is refused and left alone.
func incrStep(st string, out Output) (bool, any) {
	var n int64
	if st != "" {
		v, err := strconv.ParseInt(st, 10, 64)
		if err != nil {
			return out.Unknown || out.NotInteger, st
		}
		n = v
	}
	next := strconv.FormatInt(n+1, 10)
	return out.Unknown || (!out.NotInteger && out.Value == next), next
}

func partition(history []porcupine.Operation) [][]porcupine.Operation {
	return lincheck.PartitionBy(history, func(input any) string { return input.(Input).Key })
}

func nilOr(v string) string {
	if v == "" {
		return "nil"
	}
	return strconv.Quote(v)
}

// Describe renders an operation as the command and its reply.
func Describe(input, output any) string {
	in, out := input.(Input), output.(Output)
	var cmd string
	switch in.Kind {
	case OpGet:
		cmd = "GET " + in.Key
	case OpSet, OpSetNX, OpSetXX:
		cmd = "SET " + in.Key + " " + strconv.Quote(in.Value)
		if in.Kind == OpSetNX {
			cmd += " NX"
		} else if in.Kind == OpSetXX {
			cmd += " XX"
		}
		if in.Get {
			cmd += " GET"
		}
	case OpDel:
		cmd = "DEL " + in.Key
	case OpIncr:
		cmd = "INCR " + in.Key
	}
	var reply string
	switch {
	case out.Unknown:
		reply = "? (outcome unknown)"
	case in.Kind == OpIncr && out.NotInteger:
		reply = "ERR not an integer"
	case in.Kind == OpGet, in.Kind == OpIncr, in.Get:
		reply = nilOr(out.Value)
	case in.Kind == OpDel:
		reply = "0"
		if out.Applied {
			reply = "1"
		}
	case in.Kind == OpSet, out.Applied:
		reply = "OK"
	default:
		reply = "nil"
	}
	return cmd + " -> " + reply
}

// Model is the per-key register model of the Redis commands above.
func Model() porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return "" },
		Step:              step,
		Partition:         partition,
		DescribeOperation: Describe,
		DescribeState:     func(state any) string { return nilOr(state.(string)) },
	}
}
