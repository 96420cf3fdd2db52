package shard

import (
	"encoding/binary"
	"fmt"
)

// codecReader decodes the fields of the shard's binary encodings (commands,
// results, descriptors, shard states). Its error is sticky: after the first
// failure every read returns a zero value, so a decoder reads all its
// fields and checks once at the end, and a corrupt length never reaches an
// allocation or a slice expression.
type codecReader struct {
	b        []byte
	err      error
	sentinel error
}

// fail records the first error, wrapping r.sentinel.
func (r *codecReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.sentinel, fmt.Sprintf(format, args...))
	}
}

// uvarint reads a uvarint, rejecting overlong forms so each value has one
// encoding.
func (r *codecReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 || k != uvarintLen(v) {
		r.fail("%s: bad uvarint", what)
		return 0
	}
	r.b = r.b[k:]
	return v
}

// count reads an item count and checks it against maxCommandItems and
// against the bytes left, given that each item takes at least minBytes.
func (r *codecReader) count(what string, minBytes int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > maxCommandItems || n*uint64(minBytes) > uint64(len(r.b)) {
		r.fail("%s: count %d exceeds input", what, n)
		return 0
	}
	return int(n)
}

// bytes reads a uvarint length and that many bytes, returned as a slice of
// the reader's buffer with its capacity clipped.
func (r *codecReader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("%s: length %d exceeds input", what, n)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// byte reads one byte.
func (r *codecReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("%s: truncated", what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// flag reads a boolean byte, which must be 0 or 1.
func (r *codecReader) flag(what string) bool {
	c := r.byte(what)
	if c > 1 {
		r.fail("%s: flag byte %d", what, c)
	}
	return c == 1
}

// finish returns the first error, or an error if input is left over.
func (r *codecReader) finish() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

// uvarintLen is the length of v's shortest uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
