package wal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

// errBadPayload marks a record whose checksum holds but whose payload does
// not decode; callers turn it into a *CorruptionError naming the place.
var errBadPayload = errors.New("wal: malformed payload")

// maxCompressionRatio bounds how much a compressed payload may expand.
// The writer stores a payload raw rather than exceed it, so that a reader
// can reject an absurd decoded length from a few corrupt bytes before
// allocating for it.
const maxCompressionRatio = 128

// maxEntriesPerRecord bounds the count field of an entries record.
const maxEntriesPerRecord = 1 << 24

// entriesHeader is the start of an entries payload:
// group uvarint | first index uvarint | count uvarint.
type entriesHeader struct {
	group raftpb.GroupID
	first raftpb.Index
	count uint32
}

// plainPayload returns the uncompressed payload of a record of type typ,
// decompressing into scratch when needed. It returns the (possibly grown)
// scratch too.
func plainPayload(typ byte, p, scratch []byte) ([]byte, []byte, error) {
	if typ&flagCompressed == 0 {
		return p, scratch, nil
	}
	n, err := s2.DecodedLen(p)
	if err != nil || n > maxRecordBytes || n > maxCompressionRatio*len(p)+64 {
		return nil, scratch, fmt.Errorf("%w: compressed length", errBadPayload)
	}
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	out, err := s2.Decode(scratch[:n], p)
	if err != nil {
		return nil, scratch, fmt.Errorf("%w: %w", errBadPayload, err)
	}
	return out, scratch, nil
}

// uvarints decodes len(dst) uvarints from p and returns the rest.
func uvarints(p []byte, dst ...*uint64) ([]byte, error) {
	for _, d := range dst {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, fmt.Errorf("%w: varint", errBadPayload)
		}
		*d = v
		p = p[k:]
	}
	return p, nil
}

// decodeEntriesHeader splits a plain entries payload into its header and
// the encoded entries that follow.
func decodeEntriesHeader(p []byte) (entriesHeader, []byte, error) {
	var g, first, count uint64
	rest, err := uvarints(p, &g, &first, &count)
	if err != nil {
		return entriesHeader{}, nil, err
	}
	if count == 0 || count > maxEntriesPerRecord || first == 0 || first+count < first {
		return entriesHeader{}, nil, fmt.Errorf("%w: entries count %d first %d", errBadPayload, count, first)
	}
	return entriesHeader{group: raftpb.GroupID(g), first: raftpb.Index(first), count: uint32(count)}, rest, nil
}

// nextEntry decodes one entry (term uvarint | type byte | length uvarint |
// data) from p. Data aliases p.
func nextEntry(p []byte) (term raftpb.Term, typ raftpb.EntryType, data, rest []byte, err error) {
	t, k := binary.Uvarint(p)
	if k <= 0 || len(p) < k+1 {
		return 0, 0, nil, nil, fmt.Errorf("%w: entry term", errBadPayload)
	}
	typ = raftpb.EntryType(p[k])
	p = p[k+1:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return 0, 0, nil, nil, fmt.Errorf("%w: entry length", errBadPayload)
	}
	p = p[k:]
	return raftpb.Term(t), typ, p[:n:n], p[n:], nil
}

// appendTermRuns appends to runs the term runs of the entries in body
// (count entries starting at first), and checks that body decodes.
func appendTermRuns(runs []termRun, first raftpb.Index, count uint32, body []byte) ([]termRun, error) {
	for i := uint32(0); i < count; i++ {
		term, _, _, rest, err := nextEntry(body)
		if err != nil {
			return runs, err
		}
		body = rest
		runs = addTerm(runs, first+raftpb.Index(i), term)
	}
	if len(body) != 0 {
		return runs, fmt.Errorf("%w: %d trailing bytes", errBadPayload, len(body))
	}
	return runs, nil
}

// addTerm extends runs with entry idx of term t, starting a new run only
// when the term changes.
func addTerm(runs []termRun, idx raftpb.Index, t raftpb.Term) []termRun {
	if n := len(runs); n > 0 && runs[n-1].term == t {
		return runs
	}
	return append(runs, termRun{first: idx, term: t})
}

// hardStatePayload decodes group | term | vote | commit.
func decodeHardState(p []byte) (raftpb.GroupID, raftpb.HardState, error) {
	var g, t, v, c uint64
	rest, err := uvarints(p, &g, &t, &v, &c)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: hard state trailing bytes", errBadPayload)
	}
	return raftpb.GroupID(g), raftpb.HardState{Term: raftpb.Term(t), Vote: raftpb.NodeID(v), Commit: raftpb.Index(c)}, err
}

// decodeCompact decodes group | index | term.
func decodeCompact(p []byte) (raftpb.GroupID, raftpb.Index, raftpb.Term, error) {
	var g, i, t uint64
	rest, err := uvarints(p, &g, &i, &t)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: compact trailing bytes", errBadPayload)
	}
	return raftpb.GroupID(g), raftpb.Index(i), raftpb.Term(t), err
}

// decodeRemove decodes group.
func decodeRemove(p []byte) (raftpb.GroupID, error) {
	var g uint64
	rest, err := uvarints(p, &g)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: remove trailing bytes", errBadPayload)
	}
	return raftpb.GroupID(g), err
}
