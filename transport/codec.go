package transport

import (
	"encoding/binary"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Presence bits of an encoded message: a field whose bit is clear is zero
// and takes no bytes.
const (
	hasLogTerm uint8 = 1 << iota
	hasIndex
	hasCommit
	hasRejectHint
	hasContext
	hasEntries
	hasSnapshot
	isReject
)

// appendMessage appends m's wire form (without From and To, which the frame
// header carries) to b.
func appendMessage(b []byte, m *raftpb.Message) []byte {
	var flags uint8
	setIf := func(cond bool, bit uint8) {
		if cond {
			flags |= bit
		}
	}
	setIf(m.LogTerm != 0, hasLogTerm)
	setIf(m.Index != 0, hasIndex)
	setIf(m.Commit != 0, hasCommit)
	setIf(m.RejectHint != 0, hasRejectHint)
	setIf(m.Context != 0, hasContext)
	setIf(len(m.Entries) > 0, hasEntries)
	setIf(m.Snapshot != nil, hasSnapshot)
	setIf(m.Reject, isReject)
	b = append(b, byte(m.Type), flags)
	b = binary.AppendUvarint(b, uint64(m.Group))
	b = binary.AppendUvarint(b, uint64(m.Term))
	b = appendIf(b, flags&hasLogTerm != 0, uint64(m.LogTerm))
	b = appendIf(b, flags&hasIndex != 0, uint64(m.Index))
	b = appendIf(b, flags&hasCommit != 0, uint64(m.Commit))
	b = appendIf(b, flags&hasRejectHint != 0, uint64(m.RejectHint))
	b = appendIf(b, flags&hasContext != 0, m.Context)
	if flags&hasEntries != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.Entries)))
		for i := range m.Entries {
			e := &m.Entries[i]
			b = binary.AppendUvarint(b, uint64(e.Term))
			b = binary.AppendUvarint(b, uint64(e.Index))
			b = append(b, byte(e.Type))
			b = binary.AppendUvarint(b, uint64(len(e.Data)))
			b = append(b, e.Data...)
		}
	}
	if flags&hasSnapshot != 0 {
		b = appendSnapshot(b, m.Snapshot)
	}
	return b
}

func appendIf(b []byte, cond bool, v uint64) []byte {
	if cond {
		return binary.AppendUvarint(b, v)
	}
	return b
}

func appendSnapshot(b []byte, s *raftpb.Snapshot) []byte {
	b = binary.AppendUvarint(b, uint64(s.Metadata.Index))
	b = binary.AppendUvarint(b, uint64(s.Metadata.Term))
	cs := &s.Metadata.ConfState
	for _, ids := range [...][]raftpb.NodeID{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = binary.AppendUvarint(b, uint64(id))
		}
	}
	if cs.AutoLeave {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Data)))
	return append(b, s.Data...)
}

// appendHeartbeat appends the coalesced form of a heartbeat-type message:
// type, group, term, commit, context.
func appendHeartbeat(b []byte, m *raftpb.Message) []byte {
	b = append(b, byte(m.Type))
	b = binary.AppendUvarint(b, uint64(m.Group))
	b = binary.AppendUvarint(b, uint64(m.Term))
	b = binary.AppendUvarint(b, uint64(m.Commit))
	return binary.AppendUvarint(b, m.Context)
}

// decoder reads varints from b, remembering the first error so callers
// check once. It never panics on any input.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrBadFrame, what, d.off)
	}
	d.off = len(d.b)
}

// uvarint reads a varint: the one-byte case (most fields of most
// messages) first; everything else, errors included, goes the slow way,
// which takes the two-byte case (indexes and lengths under 16 KiB) before
// the general one. NB: this is over the inlining budget (a call per
// field); the hot message and entry decoding uses uvarintAt (decode.go).
func (d *decoder) uvarint(what string) uint64 {
	if d.off < len(d.b) {
		if c := d.b[d.off]; c < 0x80 {
			d.off++
			return uint64(c)
		}
	}
	return d.uvarintSlow(what)
}

func (d *decoder) uvarintSlow(what string) uint64 {
	if off := d.off; off+1 < len(d.b) && d.b[off+1] < 0x80 {
		d.off = off + 2
		return uint64(d.b[off]&0x7f) | uint64(d.b[off+1])<<7
	}
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte(what string) byte {
	if d.off >= len(d.b) {
		d.fail(what)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

// count reads a length that must not exceed the bytes left divided by
// minEach, so a forged count cannot make the decoder allocate without
// bound.
func (d *decoder) count(what string, minEach int) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64((len(d.b)-d.off)/minEach) {
		d.fail(what + " exceeds frame")
		return 0
	}
	return int(n)
}

// bytes returns the next n bytes, aliasing the frame buffer (capacity
// clipped, so an append by the receiver cannot overwrite what follows).
func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil || n > len(d.b)-d.off {
		d.fail(what)
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}
