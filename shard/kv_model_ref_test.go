package shard

import (
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// randomCommand builds a command for shard d; cur (the state the command
// will run against) lets some conditions hold.
func (h *kvModelHarness) randomCommand(d *Descriptor, cur map[string]string) Command {
	key := func() []byte {
		if h.rng.IntN(40) == 0 {
			return []byte(h.randomKey(&h.shards[h.rng.IntN(len(h.shards))]))
		}
		return []byte(h.randomKey(d))
	}
	var c Command
	if h.rng.IntN(3) == 0 {
		for range 1 + h.rng.IntN(2) {
			k := key()
			v, ok := cur[string(k)]
			switch h.rng.IntN(3) {
			case 0:
				c.Conds = append(c.Conds, Cond{Key: k, Value: []byte(v), Exists: ok})
			case 1:
				c.Conds = append(c.Conds, Cond{Key: k, Value: []byte(h.randomValue(cur)), Exists: true})
			default:
				c.Conds = append(c.Conds, Cond{Key: k})
			}
		}
	}
	for range 1 + h.rng.IntN(4) {
		switch p := h.rng.IntN(10); {
		case p < 5:
			c.Ops = append(c.Ops, Op{Kind: OpPut, Key: key(), Value: []byte(h.randomValue(cur))})
		case p < 7:
			c.Ops = append(c.Ops, Op{Kind: OpDelete, Key: key()})
		default:
			c.Ops = append(c.Ops, Op{Kind: OpIncr, Key: key(), Value: []byte(h.randomDelta())})
		}
	}
	c.ReturnPrev = h.rng.IntN(3) == 0
	return c
}

func (h *kvModelHarness) randomDelta() string {
	switch h.rng.IntN(12) {
	case 0:
		return "x"
	case 1:
		return "9223372036854775807"
	case 2:
		return "-9223372036854775808"
	case 3:
		return "+1"
	}
	return strconv.Itoa(h.rng.IntN(21) - 10)
}

// kvModelExec executes c on m (in place when it succeeds) by the rules in
// command.go, with math/big deciding overflow.
func kvModelExec(m map[string]string, d *Descriptor, c Command) Result {
	for _, cd := range c.Conds {
		if !d.Contains(cd.Key) {
			return Result{Status: StatusWrongShard}
		}
	}
	for _, op := range c.Ops {
		if !d.Contains(op.Key) {
			return Result{Status: StatusWrongShard}
		}
	}
	for i, cd := range c.Conds {
		v, ok := m[string(cd.Key)]
		if ok != cd.Exists || (ok && v != string(cd.Value)) {
			res := Result{Status: StatusCondFailed, FailedCond: i, CurrentExists: ok}
			if ok {
				res.Current = []byte(v)
			}
			return res
		}
	}
	var res Result
	if c.ReturnPrev {
		for _, op := range c.Ops {
			v, ok := m[string(op.Key)]
			res.PrevExists = append(res.PrevExists, ok)
			if ok {
				res.Prev = append(res.Prev, []byte(v))
			} else {
				res.Prev = append(res.Prev, nil)
			}
		}
	}
	if st := kvModelOps(m, c.Ops, &res); st != StatusOK {
		return Result{Status: st}
	}
	return res
}

// kvModelOps applies ops to m unless an increment fails.
func kvModelOps(m map[string]string, ops []Op, res *Result) Status {
	tmp := map[string]*string{}
	get := func(k string) (string, bool) {
		if p, ok := tmp[k]; ok {
			return strOr(p), p != nil
		}
		v, ok := m[k]
		return v, ok
	}
	for i, op := range ops {
		k, v := string(op.Key), string(op.Value)
		switch op.Kind {
		case OpPut:
			tmp[k] = &v
		case OpDelete:
			tmp[k] = nil
		case OpIncr:
			cur, ok := get(k)
			if !ok {
				cur = "0"
			}
			a, aok := modelInt(cur)
			b, bok := modelInt(v)
			if !aok || !bok {
				return StatusNotInteger
			}
			sum := new(big.Int).Add(a, b)
			if !sum.IsInt64() {
				return StatusOverflow
			}
			s := sum.String()
			tmp[k] = &s
			if res.Values == nil {
				res.Values = make([][]byte, len(ops))
			}
			res.Values[i] = []byte(s)
		}
	}
	for k, p := range tmp {
		if p == nil {
			delete(m, k)
		} else {
			m[k] = *p
		}
	}
	return StatusOK
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// modelInt parses s as an int64 written the way big.Int prints it.
func modelInt(s string) (*big.Int, bool) {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || !n.IsInt64() || n.String() != s {
		return nil, false
	}
	return n, true
}

// kvModelScan formats what Scan must return from m.
func kvModelScan(m map[string]string, d *Descriptor, start, end string, limit int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if len(out) == limit {
			break
		}
		if d.Contains([]byte(k)) && k >= start && (end == "" || k < end) {
			out = append(out, k+"="+m[k])
		}
	}
	return strings.Join(out, " ")
}

func kvModelFmt(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, " ")
}
