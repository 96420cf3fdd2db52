package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrBadCommand marks bytes that are not a valid encoded [Command] or
// [Result]. Retrying with the same bytes is pointless.
var ErrBadCommand = errors.New("shard: malformed command")

// commandVersion and resultVersion are the first byte of an encoded Command
// and Result. A new layout takes a new version; decoders reject versions
// they do not know rather than guess.
const (
	commandVersion = 1
	resultVersion  = 1
)

// maxCommandItems bounds the Conds, Ops, Values and Prev a decoded message
// may hold. Each item also costs at least two bytes of input, which the
// decoder checks first, so a forged count cannot make it allocate more than
// the input justifies.
const maxCommandItems = 1 << 20

// EncodeCommand encodes c. Values of OpDelete ops and of Conds with
// Exists false carry no meaning and are not encoded.
//
//	| field      | encoding                                          |
//	|------------|---------------------------------------------------|
//	| version    | 1 byte (1)                                        |
//	| flags      | 1 byte: bit 0 ReturnPrev, other bits 0            |
//	| conds      | uvarint count, then per cond:                     |
//	|            |   1 byte exists (0 or 1), uvarint len, key,       |
//	|            |   if exists: uvarint len, value                   |
//	| ops        | uvarint count, then per op:                       |
//	|            |   1 byte kind (OpPut..OpIncr), uvarint len, key,  |
//	|            |   unless OpDelete: uvarint len, value             |
//
// Every uvarint is in its shortest form, so each Command has exactly one
// encoding and DecodeCommand(EncodeCommand(c)) re-encodes to the same bytes.
func EncodeCommand(c Command) []byte {
	n := 2 + 2*binary.MaxVarintLen64
	for i := range c.Conds {
		n += 1 + 2*binary.MaxVarintLen64 + len(c.Conds[i].Key) + len(c.Conds[i].Value)
	}
	for i := range c.Ops {
		n += 1 + 2*binary.MaxVarintLen64 + len(c.Ops[i].Key) + len(c.Ops[i].Value)
	}
	buf := make([]byte, 0, n)
	var flags byte
	if c.ReturnPrev {
		flags |= 1
	}
	buf = append(buf, commandVersion, flags)
	buf = binary.AppendUvarint(buf, uint64(len(c.Conds)))
	for _, cd := range c.Conds {
		buf = append(buf, boolByte(cd.Exists))
		buf = appendBytes(buf, cd.Key)
		if cd.Exists {
			buf = appendBytes(buf, cd.Value)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(c.Ops)))
	for _, op := range c.Ops {
		buf = append(buf, byte(op.Kind))
		buf = appendBytes(buf, op.Key)
		if op.Kind != OpDelete {
			buf = appendBytes(buf, op.Value)
		}
	}
	return buf
}

// DecodeCommand decodes bytes written by [EncodeCommand]. The Command owns
// its memory (one copy of b), so b may be reused afterwards. Any malformed
// input, including trailing bytes, yields an error wrapping ErrBadCommand;
// it never panics.
func DecodeCommand(b []byte) (Command, error) {
	return decodeCommand(b, true, nil, nil)
}

// decodeCommand is DecodeCommand; with own unset the Command's keys and
// values alias b instead of a copy of it, and its Conds and Ops reuse the
// arrays of conds and ops when they are large enough. Why: the apply path
// decodes every command once on every replica, and the entry's data
// outlives the apply batch (the Raft log holds it and nobody modifies it),
// so the copy and the two slices were three allocations per entry.
func decodeCommand(b []byte, own bool, conds []Cond, ops []Op) (Command, error) {
	var c Command
	if len(b) < 2 || b[0] != commandVersion {
		return c, fmt.Errorf("%w: bad header", ErrBadCommand)
	}
	if b[1]&^1 != 0 {
		return c, fmt.Errorf("%w: unknown flags %#x", ErrBadCommand, b[1])
	}
	c.ReturnPrev = b[1] == 1
	body := b[2:len(b):len(b)]
	if own {
		body = append([]byte(nil), body...)
	}
	r := codecReader{b: body, sentinel: ErrBadCommand}
	if n := r.count("conds", 2); n > 0 {
		c.Conds = slices.Grow(conds[:0], n)[:n]
		for i := range c.Conds {
			c.Conds[i] = r.cond()
		}
	}
	if n := r.count("ops", 2); n > 0 {
		c.Ops = slices.Grow(ops[:0], n)[:n]
		for i := range c.Ops {
			c.Ops[i] = r.op()
		}
	}
	if err := r.finish(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// cond reads one Cond of an encoded Command.
func (r *codecReader) cond() Cond {
	var cd Cond
	cd.Exists = r.flag("cond exists")
	cd.Key = r.bytes("cond key")
	if cd.Exists {
		cd.Value = r.bytes("cond value")
	}
	return cd
}

// op reads one Op of an encoded Command.
func (r *codecReader) op() Op {
	var op Op
	kind := OpKind(r.byte("op kind"))
	if r.err == nil && (kind < OpPut || kind > OpIncr) {
		r.fail("op kind %d", kind)
	}
	op.Kind = kind
	op.Key = r.bytes("op key")
	if kind != OpDelete {
		op.Value = r.bytes("op value")
	}
	return op
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendBytes appends p with its uvarint length.
func appendBytes(buf, p []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(p)))
	return append(buf, p...)
}
