package shard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// Caller carries a request to another node and brings its answer back
// (the transport's request path). The store forwards a request that
// reaches a node not leading the key's shard to the leader's node through
// it. Call must honour ctx.
type Caller interface {
	Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error)
}

// Forwarded request kinds.
const (
	fwdPropose byte = 1 // payload: command
	fwdRead    byte = 2 // payload: key; answer: found byte + value
	fwdScan    byte = 3 // payload: start, end, limit; answer: pairs
	fwdAdmin   byte = 4 // payload: an admin operation (admin.go)
	fwdNode    byte = 5 // payload: a node-level request (report.go); no shard
	// fwdReadMany: payload: keys of one shard (up to MaxGetManyKeys);
	// answer: the values, encodeValues.
	fwdReadMany byte = 6
	fwdLastKind      = fwdReadMany
)

// maxParts bounds the parts a forwarded request of the kind may carry:
// a read of several keys carries one part per key, the others at most 4.
func maxParts(kind byte) int {
	if kind == fwdReadMany {
		return MaxGetManyKeys
	}
	return 4
}

// isKeyRead reports whether kind reads keys and changes nothing.
func isKeyRead(kind byte) bool {
	return kind == fwdRead || kind == fwdScan || kind == fwdReadMany
}

// fwdVersion is the first byte of every forwarded request and answer.
const fwdVersion = 1

// Answer status codes; each maps to one of the store's errors so the
// caller sees the same error it would have seen locally.
const (
	fwdOK byte = iota
	fwdNotLeader
	fwdNoQuorum
	fwdTimeout
	fwdDropped
	fwdClosed
	fwdNoShard
	fwdOther
	fwdMoved
	fwdEpoch
)

// errBadForward marks a forwarded request or answer that does not decode.
var errBadForward = errors.New("shard: malformed forwarded request")

// forwardRequest is a decoded forwarded request.
//
//	| field        | encoding                                 |
//	|--------------|------------------------------------------|
//	| version      | 1 byte                                   |
//	| kind         | 1 byte (fwdPropose ... fwdReadMany)      |
//	| consistency  | 1 byte                                   |
//	| shard        | uvarint                                  |
//	| parts        | uvarint count, then uvarint length+bytes |
type forwardRequest struct {
	kind        byte
	consistency Consistency
	shard       ShardID
	parts       [][]byte
}

func (f forwardRequest) marshal() []byte {
	n := 16
	for _, p := range f.parts {
		n += len(p) + binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	b = append(b, fwdVersion, f.kind, byte(f.consistency))
	b = binary.AppendUvarint(b, uint64(f.shard))
	b = binary.AppendUvarint(b, uint64(len(f.parts)))
	for _, p := range f.parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

func unmarshalForward(b []byte) (forwardRequest, error) {
	var f forwardRequest
	if len(b) < 3 || b[0] != fwdVersion || b[1] < fwdPropose || b[1] > fwdLastKind || b[2] > byte(Stale) {
		return f, errBadForward
	}
	f.kind, f.consistency = b[1], Consistency(b[2])
	b = b[3:]
	id, k := binary.Uvarint(b)
	if k <= 0 {
		return f, errBadForward
	}
	f.shard, b = ShardID(id), b[k:]
	parts, err := readParts(b, maxParts(f.kind))
	f.parts = parts
	return f, err
}

// readParts decodes a uvarint count of at most maxParts length-prefixed
// byte strings that exactly fill b. The count is checked against both
// bounds before anything is allocated: each part takes at least its
// length byte, so a count above the bytes left cannot be honest.
func readParts(b []byte, maxParts int) ([][]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errBadForward
	}
	if n > uint64(maxParts) {
		return nil, fmt.Errorf("%w: %d parts, at most %d", errBadForward, n, maxParts)
	}
	b = b[k:]
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d parts in %d bytes", errBadForward, n, len(b))
	}
	parts := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadForward
		}
		parts = append(parts, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errBadForward
	}
	return parts, nil
}

// encodeAnswer frames a forwarded request's outcome: version, status,
// leader hint (uvarint), then the payload or the error text.
func encodeAnswer(payload []byte, err error) []byte {
	status, leader := fwdOK, raftpb.None
	var nl *NotLeaderError
	switch {
	case err == nil:
	case errors.As(err, &nl) && nl.Leader != raftpb.None:
		status, leader = fwdNotLeader, nl.Leader
	case errors.Is(err, ErrNoQuorum):
		status = fwdNoQuorum
	case errors.Is(err, ErrTimeout):
		status = fwdTimeout
	case errors.Is(err, ErrProposalDropped):
		status = fwdDropped
	case errors.Is(err, ErrClosed), errors.Is(err, ErrFailed):
		status = fwdClosed
	case errors.Is(err, ErrNoShard):
		status = fwdNoShard
	case errors.Is(err, ErrShardMoved):
		status = fwdMoved
	case errors.Is(err, ErrEpochMismatch):
		status = fwdEpoch
	default:
		status = fwdOther
	}
	if err != nil {
		payload = []byte(err.Error())
	}
	b := append([]byte{fwdVersion, status}, binary.AppendUvarint(nil, uint64(leader))...)
	return append(b, payload...)
}

func decodeAnswer(shard ShardID, b []byte) ([]byte, error) {
	if len(b) < 3 || b[0] != fwdVersion {
		return nil, errBadForward
	}
	status := b[1]
	leader, k := binary.Uvarint(b[2:])
	if k <= 0 {
		return nil, errBadForward
	}
	payload := b[2+k:]
	msg := string(payload)
	switch status {
	case fwdOK:
		return payload, nil
	case fwdNotLeader:
		return nil, &NotLeaderError{Shard: shard, Leader: raftpb.NodeID(leader)}
	case fwdNoQuorum:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrNoQuorum, msg)
	case fwdTimeout:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrTimeout, msg)
	case fwdDropped:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrProposalDropped, msg)
	case fwdClosed:
		// NB: not ErrNoQuorum: a write pending at the leader when its node
		// stopped may still be committed by the others, so it must not
		// read as safe to retry.
		return nil, fmt.Errorf("%w: the leader's node stopped before answering; a write may still be applied (%s)", ErrTimeout, msg)
	case fwdNoShard:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrNoShard, msg)
	case fwdMoved:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrShardMoved, msg)
	case fwdEpoch:
		return nil, fmt.Errorf("%w (at the leader: %s)", ErrEpochMismatch, msg)
	}
	return nil, fmt.Errorf("shard: forwarded request failed at the leader: %s", msg)
}

// forward sends req to node `to` and decodes its answer.
func (s *Store) forward(ctx context.Context, to raftpb.NodeID, req forwardRequest) ([]byte, error) {
	if s.caller == nil {
		return nil, &NotLeaderError{Shard: req.shard, Leader: to}
	}
	s.m.forwarded.Add(1)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ans, err := s.caller.Call(ctx, to, req.marshal())
	if err != nil {
		if errors.Is(err, transport.ErrCallRefused) {
			// The leader's node did not run it (it answers no calls, is
			// overloaded or closing): the client may still go there.
			return nil, &NotLeaderError{Shard: req.shard, Leader: to}
		}
		if errors.Is(err, transport.ErrCallTooLarge) && isKeyRead(req.kind) {
			// A read whose request or answer does not fit a frame: trying
			// again cannot help, so it must not read as ErrNoQuorum. (Not
			// for writes and admin operations: when the answer is what
			// did not fit, they ran.)
			return nil, fmt.Errorf("%w: forwarding to node %d: %w", ErrTooLarge, to, err)
		}
		if ctx.Err() != nil || req.kind == fwdPropose {
			// NB: a forwarded write may have run at the leader although
			// its answer was lost: its outcome is unknown, never "not
			// applied" (a client retrying on ErrNoQuorum could apply it
			// twice).
			return nil, fmt.Errorf("%w: forwarding to node %d: %w", ErrTimeout, to, err)
		}
		return nil, fmt.Errorf("%w: forwarding to node %d: %w", ErrNoQuorum, to, err)
	}
	return decodeAnswer(req.shard, ans)
}

// HandleCall serves a request forwarded by another node. It runs the
// request here and never forwards it again (a stale hint fails with
// *NotLeaderError instead of bouncing between nodes).
func (s *Store) HandleCall(ctx context.Context, from raftpb.NodeID, req []byte) []byte {
	f, err := unmarshalForward(req)
	if err != nil {
		return encodeAnswer(nil, err)
	}
	if f.kind == fwdNode {
		if len(f.parts) != 1 {
			return encodeAnswer(nil, errBadForward)
		}
		out, err := s.serveNode(f.parts[0])
		return encodeAnswer(out, err)
	}
	r := s.replica(f.shard)
	if r == nil || !r.descriptor().Initialized() {
		return encodeAnswer(nil, fmt.Errorf("%w: shard %d is not on node %d", ErrNoShard, f.shard, s.opts.NodeID))
	}
	out, err := s.serveForwarded(ctx, r, &f)
	return encodeAnswer(out, err)
}

func (s *Store) serveForwarded(ctx context.Context, r *replica, f *forwardRequest) ([]byte, error) {
	switch f.kind {
	case fwdPropose:
		if len(f.parts) != 1 {
			return nil, errBadForward
		}
		return s.proposeLocal(ctx, r, f.parts[0])
	case fwdRead:
		if len(f.parts) != 1 {
			return nil, errBadForward
		}
		v, found, err := s.getLocal(ctx, r, f.parts[0], f.consistency)
		if err != nil || !found {
			return []byte{0}, err
		}
		return append([]byte{1}, v...), nil
	case fwdReadMany:
		if len(f.parts) == 0 {
			return nil, errBadForward
		}
		vals, found, err := s.getManyLocal(ctx, r, f.parts, f.consistency)
		if err != nil {
			return nil, err
		}
		return encodeValues(vals, found), nil
	case fwdAdmin:
		if len(f.parts) != 1 {
			return nil, errBadForward
		}
		return s.serveAdmin(ctx, r, f.parts[0])
	case fwdScan:
		if len(f.parts) != 3 {
			return nil, errBadForward
		}
		limit, k := binary.Uvarint(f.parts[2])
		if k <= 0 || limit == 0 || limit > 1<<20 {
			return nil, errBadForward
		}
		kvs, err := s.scanLocal(ctx, r, f.parts[0], f.parts[1], int(limit), f.consistency)
		if err != nil {
			return nil, err
		}
		return encodePairs(kvs), nil
	}
	return nil, errBadForward
}

func encodePairs(kvs []KeyValue) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = binary.AppendUvarint(b, uint64(len(kv.Key)))
		b = append(b, kv.Key...)
		b = binary.AppendUvarint(b, uint64(len(kv.Value)))
		b = append(b, kv.Value...)
	}
	return b
}

func decodePairs(b []byte) ([]KeyValue, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadForward
	}
	parts, err := readParts(append(binary.AppendUvarint(nil, 2*n), b[k:]...), int(2*n))
	if err != nil {
		return nil, err
	}
	kvs := make([]KeyValue, n)
	for i := range kvs {
		kvs[i] = KeyValue{Key: parts[2*i], Value: parts[2*i+1]}
	}
	return kvs, nil
}

// encodeValues encodes the answer to a read of several keys: a uvarint
// count, then per key a byte (1 found, 0 absent) and, if found, the
// value's uvarint length and bytes.
func encodeValues(vals [][]byte, found []bool) []byte {
	n := binary.MaxVarintLen32
	for _, v := range vals {
		n += 1 + binary.MaxVarintLen32 + len(v)
	}
	b := binary.AppendUvarint(make([]byte, 0, n), uint64(len(vals)))
	for i, v := range vals {
		if !found[i] {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeValues decodes encodeValues's answer to a read of want keys; any
// other count, flag or length is an error. The values alias b.
func decodeValues(b []byte, want int) (vals [][]byte, found []bool, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(want) {
		return nil, nil, fmt.Errorf("%w: answer holds %d values, want %d", errBadForward, n, want)
	}
	b = b[k:]
	vals, found = make([][]byte, want), make([]bool, want)
	for i := range vals {
		if len(b) == 0 || b[0] > 1 {
			return nil, nil, errBadForward
		}
		flag := b[0]
		b = b[1:]
		if flag == 0 {
			continue
		}
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, errBadForward
		}
		vals[i], found[i] = b[k:k+int(l):k+int(l)], true
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, nil, errBadForward
	}
	return vals, found, nil
}
