package shard

import (
	"encoding/binary"
	"fmt"
)

// EncodeResult encodes r for the proposer. Fields that r.Status does not
// use (FailedCond and Current unless StatusCondFailed) are not encoded.
//
//	| field      | encoding                                             |
//	|------------|------------------------------------------------------|
//	| version    | 1 byte (1)                                           |
//	| status     | 1 byte                                               |
//	| failed     | only for StatusCondFailed: uvarint FailedCond,       |
//	|            |   1 byte CurrentExists, if set: uvarint len, Current |
//	| values     | uvarint count, then per value: uvarint len+1 and the |
//	|            |   bytes, or 0 for a nil value                        |
//	| prev       | uvarint count, then per entry: 1 byte PrevExists,    |
//	|            |   if set: uvarint len, value                         |
//
// A missing PrevExists entry counts as false.
func EncodeResult(r Result) []byte {
	n := 4 + 4*binary.MaxVarintLen64 + len(r.Current)
	for _, v := range r.Values {
		n += binary.MaxVarintLen64 + len(v)
	}
	for _, v := range r.Prev {
		n += 1 + binary.MaxVarintLen64 + len(v)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, resultVersion, byte(r.Status))
	if r.Status == StatusCondFailed {
		buf = binary.AppendUvarint(buf, uint64(r.FailedCond))
		buf = append(buf, boolByte(r.CurrentExists))
		if r.CurrentExists {
			buf = appendBytes(buf, r.Current)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(r.Values)))
	for _, v := range r.Values {
		if v == nil {
			buf = append(buf, 0)
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(len(v))+1)
		buf = append(buf, v...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(r.Prev)))
	for i, v := range r.Prev {
		exists := i < len(r.PrevExists) && r.PrevExists[i]
		buf = append(buf, boolByte(exists))
		if exists {
			buf = appendBytes(buf, v)
		}
	}
	return buf
}

// DecodeResult decodes bytes written by [EncodeResult]. The Result owns its
// memory. Malformed input yields an error wrapping ErrBadCommand, never a
// panic.
func DecodeResult(b []byte) (Result, error) {
	var res Result
	if len(b) < 2 || b[0] != resultVersion {
		return res, fmt.Errorf("%w: bad result header", ErrBadCommand)
	}
	if b[1] > byte(StatusWrongShard) {
		return res, fmt.Errorf("%w: result status %d", ErrBadCommand, b[1])
	}
	res.Status = Status(b[1])
	r := codecReader{b: append([]byte(nil), b[2:]...), sentinel: ErrBadCommand}
	if res.Status == StatusCondFailed {
		idx := r.uvarint("failed cond")
		if idx >= maxCommandItems {
			r.fail("failed cond %d", idx)
		}
		res.FailedCond = int(idx)
		res.CurrentExists = r.flag("current exists")
		if res.CurrentExists {
			res.Current = r.bytes("current")
		}
	}
	if n := r.count("values", 1); n > 0 {
		res.Values = make([][]byte, n)
		for i := range res.Values {
			res.Values[i] = r.optionalBytes("value")
		}
	}
	if n := r.count("prev", 1); n > 0 {
		res.Prev = make([][]byte, n)
		res.PrevExists = make([]bool, n)
		for i := range res.Prev {
			res.PrevExists[i] = r.flag("prev exists")
			if res.PrevExists[i] {
				res.Prev[i] = r.bytes("prev")
			}
		}
	}
	if err := r.finish(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// optionalBytes reads a value encoded as uvarint len+1 and bytes, or 0 for
// nil.
func (r *codecReader) optionalBytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil || n == 0 {
		return nil
	}
	if n-1 > uint64(len(r.b)) {
		r.fail("%s: length %d exceeds input", what, n-1)
		return nil
	}
	p := r.b[: n-1 : n-1]
	r.b = r.b[n-1:]
	return p
}
