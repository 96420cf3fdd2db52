package transport

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Smallest encodings, used to bound counts before allocating.
const (
	minMessageBytes   = 4 // type, flags, group, term
	minHeartbeatBytes = 5 // type, group, term, commit, context
	minEntryBytes     = 4 // term, index, type, length
)

// decodeBatch decodes the body of a kindBatch frame into one slice of
// messages: the frame's messages, then its heartbeats expanded into
// Messages. From and To come from the header. Entry data aliases body.
// The messages are decoded into out's backing array when it is large
// enough (the server reuses one per connection, see serverCtx), else into
// a new one. It allocates per frame (entry arenas, the slice if out is too
// small), never per message, except a Snapshot value for MsgSnap.
func decodeBatch(h frameHeader, body []byte, out []raftpb.Message) ([]raftpb.Message, error) {
	nm, nh := uint64(h.messages), uint64(h.heartbeats)
	if nm*minMessageBytes+nh*minHeartbeatBytes > uint64(len(body)) {
		return nil, fmt.Errorf("%w: %d messages and %d heartbeats cannot fit in %d bytes", ErrBadFrame, nm, nh, len(body))
	}
	d := decoder{b: body}
	if uint64(cap(out)) < nm+nh {
		out = make([]raftpb.Message, nm+nh)
	}
	out = out[:nm+nh]
	clear(out) // one bulk clear: cheaper than a struct store per message
	var arena []raftpb.Entry
	for i := range out[:nm] {
		m := &out[i]
		m.From, m.To = h.from, h.to
		arena = decodeMessage(&d, m, arena, int(nm)-i-1)
	}
	for i := range out[nm:] {
		m := &out[nm+uint64(i)]
		m.From, m.To = h.from, h.to
		decodeHeartbeat(&d, m)
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(body) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadFrame, len(body)-d.off)
	}
	return out, nil
}

func decodeType(d *decoder) raftpb.MessageType {
	t := raftpb.MessageType(d.byte("message type"))
	if d.err == nil && (t < 1 || t > raftpb.MaxMessageType) {
		d.fail(fmt.Sprintf("message type %d", t))
	}
	return t
}

// decodeMessage decodes one message into m, carving its entries out of
// arena (grown as needed) and returning the arena. left is the number of
// messages after this one in the frame, which sizes a new arena.
func decodeMessage(d *decoder, m *raftpb.Message, arena []raftpb.Entry, left int) []raftpb.Entry {
	flags, ok := decodeScalarsFast(d, m)
	if !ok {
		flags = decodeScalars(d, m)
	}
	if flags&hasEntries != 0 {
		arena = decodeEntries(d, m, arena, left)
	}
	if flags&hasSnapshot != 0 {
		m.Snapshot = decodeSnapshot(d)
	}
	return arena
}

// uvarintAt reads a varint of at most nine bytes at b[off:] and returns it
// with the offset after it, or -1 for anything else (off out of range, a
// truncated or ten-byte varint); -1 in gives -1 out, so a run of calls is
// checked once at the end. It inlines (the decoder's methods are too large
// to), which is what the fast paths below are for: one call per message
// or entry instead of one per field. Invalid input always takes the
// checked path, which reports it.
func uvarintAt(b []byte, off int) (uint64, int) {
	var v uint64
	for s := uint(0); off >= 0 && off < len(b) && s < 63; s += 7 {
		c := b[off]
		off++
		v |= uint64(c&0x7f) << s
		if c < 0x80 {
			return v, off
		}
	}
	return 0, -1
}

// decodeScalarsFast decodes the type, flags and scalar fields of the
// message at d.off with uvarintAt. If anything is out of the ordinary it
// reports false and leaves d and m untouched, for decodeScalars.
func decodeScalarsFast(d *decoder, m *raftpb.Message) (flags uint8, ok bool) {
	b, off := d.b, d.off
	if d.err != nil || off+2 > len(b) {
		return 0, false
	}
	t, flags := raftpb.MessageType(b[off]), b[off+1]
	if t < 1 || t > raftpb.MaxMessageType {
		return 0, false
	}
	var group, term, logTerm, index, commit, hint, ctx uint64
	group, off = uvarintAt(b, off+2)
	term, off = uvarintAt(b, off)
	if flags&hasLogTerm != 0 {
		logTerm, off = uvarintAt(b, off)
	}
	if flags&hasIndex != 0 {
		index, off = uvarintAt(b, off)
	}
	if flags&hasCommit != 0 {
		commit, off = uvarintAt(b, off)
	}
	if flags&hasRejectHint != 0 {
		hint, off = uvarintAt(b, off)
	}
	if flags&hasContext != 0 {
		ctx, off = uvarintAt(b, off)
	}
	if off < 0 {
		return 0, false
	}
	m.Type, m.Group, m.Term = t, raftpb.GroupID(group), raftpb.Term(term)
	m.LogTerm, m.Index, m.Commit = raftpb.Term(logTerm), raftpb.Index(index), raftpb.Index(commit)
	m.RejectHint, m.Context, m.Reject = raftpb.Index(hint), ctx, flags&isReject != 0
	d.off = off
	return flags, true
}

// decodeScalars is the checked form of decodeScalarsFast.
func decodeScalars(d *decoder, m *raftpb.Message) (flags uint8) {
	m.Type = decodeType(d)
	flags = d.byte("flags")
	m.Group = raftpb.GroupID(d.uvarint("group"))
	m.Term = raftpb.Term(d.uvarint("term"))
	if flags&hasLogTerm != 0 {
		m.LogTerm = raftpb.Term(d.uvarint("log term"))
	}
	if flags&hasIndex != 0 {
		m.Index = raftpb.Index(d.uvarint("index"))
	}
	if flags&hasCommit != 0 {
		m.Commit = raftpb.Index(d.uvarint("commit"))
	}
	if flags&hasRejectHint != 0 {
		m.RejectHint = raftpb.Index(d.uvarint("reject hint"))
	}
	if flags&hasContext != 0 {
		m.Context = d.uvarint("context")
	}
	m.Reject = flags&isReject != 0
	return flags
}

func decodeEntries(d *decoder, m *raftpb.Message, arena []raftpb.Entry, left int) []raftpb.Entry {
	n := d.count("entry count", minEntryBytes)
	if n == 0 {
		d.fail("empty entries")
		return arena
	}
	if cap(arena)-len(arena) < n {
		// A new arena for this message and some of the rest of the frame
		// (the old one stays referenced by earlier messages): twice the
		// last, but no more than one entry for each message left, so a
		// frame of one-entry MsgApps gets arenas that add up to exactly
		// its entries.
		c := min(max(2*cap(arena), 256), n+left)
		arena = make([]raftpb.Entry, 0, max(c, n))
	}
	start := len(arena)
	arena = arena[:start+n]
	for i := start; i < start+n && d.err == nil; i++ {
		// Fields are stored in place: appending a whole Entry (it holds a
		// pointer) costs a bulk write barrier while the GC marks.
		e := &arena[i]
		if decodeEntryFast(d, e) {
			continue
		}
		e.Term = raftpb.Term(d.uvarint("entry term"))
		e.Index = raftpb.Index(d.uvarint("entry index"))
		e.Type = raftpb.EntryType(d.byte("entry type"))
		if e.Type > raftpb.MaxEntryType {
			d.fail(fmt.Sprintf("entry type %d", e.Type))
		}
		if l := d.count("entry length", 1); l > 0 {
			e.Data = d.bytes(l, "entry data")
		}
	}
	m.Entries = arena[start:len(arena):len(arena)]
	return arena
}

// decodeEntryFast decodes the entry at d.off into e with uvarintAt; if
// anything is out of the ordinary it reports false and leaves d and e
// untouched, for the checked path.
func decodeEntryFast(d *decoder, e *raftpb.Entry) bool {
	b := d.b
	term, off := uvarintAt(b, d.off)
	index, off := uvarintAt(b, off)
	if off < 0 || off >= len(b) || raftpb.EntryType(b[off]) > raftpb.MaxEntryType {
		return false
	}
	typ := raftpb.EntryType(b[off])
	l, off := uvarintAt(b, off+1)
	if off < 0 || l > uint64(len(b)-off) {
		return false
	}
	e.Term, e.Index, e.Type = raftpb.Term(term), raftpb.Index(index), typ
	if l > 0 {
		end := off + int(l)
		e.Data = b[off:end:end]
		off = end
	}
	d.off = off
	return true
}

func decodeSnapshot(d *decoder) *raftpb.Snapshot {
	s := &raftpb.Snapshot{}
	s.Metadata.Index = raftpb.Index(d.uvarint("snapshot index"))
	s.Metadata.Term = raftpb.Term(d.uvarint("snapshot term"))
	cs := &s.Metadata.ConfState
	for _, ids := range [...]*[]raftpb.NodeID{&cs.Voters, &cs.VotersOutgoing, &cs.Learners, &cs.LearnersNext} {
		n := d.count("conf state size", 1)
		if n > 0 {
			*ids = make([]raftpb.NodeID, n)
			for i := range *ids {
				(*ids)[i] = raftpb.NodeID(d.uvarint("conf state node"))
			}
		}
	}
	switch d.byte("auto leave") {
	case 0:
	case 1:
		cs.AutoLeave = true
	default:
		d.fail("auto leave flag")
	}
	if l := d.count("snapshot data length", 1); l > 0 {
		s.Data = d.bytes(l, "snapshot data")
	}
	return s
}

func decodeHeartbeat(d *decoder, m *raftpb.Message) {
	m.Type = decodeType(d)
	if d.err == nil && !m.Type.IsHeartbeat() {
		d.fail(fmt.Sprintf("%s in heartbeat section", m.Type))
	}
	m.Group = raftpb.GroupID(d.uvarint("group"))
	m.Term = raftpb.Term(d.uvarint("term"))
	m.Commit = raftpb.Index(d.uvarint("commit"))
	m.Context = d.uvarint("context")
}
