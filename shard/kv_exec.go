package shard

import (
	"bytes"
	"math"
	"slices"
	"strconv"
)

// kvWrite is one staged write of a command.
type kvWrite struct {
	key, value []byte
	del        bool
}

// execute evaluates cmd for the shard described by d against v, without
// writing: it returns the Result and, when the Status is StatusOK, the
// writes to make. Staging the writes first is what makes a command atomic:
// a Cond or an OpIncr that fails leaves nothing behind. The outcome depends
// only on cmd and the state in v, so every replica computes the same.
// An error is a failure to read the state, not a property of the command.
//
// The writes are appended to buf[:0] (the caller's scratch, reused from
// command to command).
func execute(v applyView, d *Descriptor, cmd *Command, buf []kvWrite) (Result, []kvWrite, error) {
	for i := range cmd.Conds {
		if !d.Contains(cmd.Conds[i].Key) {
			return Result{Status: StatusWrongShard}, nil, nil
		}
	}
	for i := range cmd.Ops {
		if !d.Contains(cmd.Ops[i].Key) {
			return Result{Status: StatusWrongShard}, nil, nil
		}
	}
	for i, c := range cmd.Conds {
		cur, found, err := v.get(c.Key)
		if err != nil {
			return Result{}, nil, err
		}
		if found != c.Exists || (found && !bytes.Equal(cur, c.Value)) {
			return Result{Status: StatusCondFailed, FailedCond: i, Current: cur, CurrentExists: found}, nil, nil
		}
	}
	var res Result
	if cmd.ReturnPrev {
		if err := readPrev(v, cmd.Ops, &res); err != nil {
			return Result{}, nil, err
		}
	}
	writes, err := stageOps(v, cmd.Ops, &res, buf)
	if err != nil || res.Status != StatusOK {
		return Result{Status: res.Status}, nil, err
	}
	return res, writes, nil
}

// readPrev fills res.Prev with each op key's value before the command.
func readPrev(v applyView, ops []Op, res *Result) error {
	res.Prev = make([][]byte, len(ops))
	res.PrevExists = make([]bool, len(ops))
	for i := range ops {
		val, found, err := v.get(ops[i].Key)
		if err != nil {
			return err
		}
		res.Prev[i], res.PrevExists[i] = val, found
	}
	return nil
}

// stageOps turns ops into writes; an OpIncr sees the writes of the ops
// before it. On an OpIncr failure it sets res.Status and returns no writes.
// The writes are appended to buf[:0].
func stageOps(v applyView, ops []Op, res *Result, buf []kvWrite) ([]kvWrite, error) {
	writes := slices.Grow(buf[:0], len(ops))
	for i, op := range ops {
		switch op.Kind {
		case OpPut:
			writes = append(writes, kvWrite{key: op.Key, value: op.Value})
		case OpDelete:
			writes = append(writes, kvWrite{key: op.Key, del: true})
		case OpIncr:
			cur, found, err := stagedGet(v, writes, op.Key)
			if err != nil {
				return nil, err
			}
			sum, st := incr(cur, found, op.Value)
			if st != StatusOK {
				res.Status = st
				return nil, nil
			}
			if res.Values == nil {
				res.Values = make([][]byte, len(ops))
			}
			res.Values[i] = sum
			writes = append(writes, kvWrite{key: op.Key, value: sum})
		default:
			// DecodeCommand admits no other kind; a Command built in
			// memory with one is malformed, not a reason to panic.
			res.Status = StatusBadCommand
			return nil, nil
		}
	}
	return writes, nil
}

// stagedGet returns key's value as the staged writes leave it, else as v
// holds it. The scan is linear: commands are small, and one with many
// increments of distinct keys pays O(n²) comparisons only within itself.
func stagedGet(v applyView, writes []kvWrite, key []byte) ([]byte, bool, error) {
	for i := len(writes) - 1; i >= 0; i-- {
		if bytes.Equal(writes[i].key, key) {
			return writes[i].value, !writes[i].del, nil
		}
	}
	return v.get(key)
}

// incr adds the integer delta to the integer cur (0 when !found) and
// returns the decimal sum. Integers must be in canonical form (what
// strconv.FormatInt prints: no sign but '-', no leading zeros, no "-0"),
// as Redis requires, so every replica and every client agrees on what is
// a number; values beyond int64 are not integers.
func incr(cur []byte, found bool, delta []byte) ([]byte, Status) {
	d, ok := parseCanonicalInt(delta)
	if !ok {
		return nil, StatusNotInteger
	}
	var base int64
	if found {
		if base, ok = parseCanonicalInt(cur); !ok {
			return nil, StatusNotInteger
		}
	}
	if (d > 0 && base > math.MaxInt64-d) || (d < 0 && base < math.MinInt64-d) {
		return nil, StatusOverflow
	}
	return strconv.AppendInt(nil, base+d, 10), StatusOK
}

// parseCanonicalInt parses b as a canonical decimal int64.
func parseCanonicalInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	return n, bytes.Equal(strconv.AppendInt(buf[:0], n, 10), b)
}
