package shard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ErrBadShardState marks bytes that are not a valid encoded [Descriptor] or
// [ShardState]. Found in the store's metadata it means corruption; a retry
// does not help.
var ErrBadShardState = errors.New("shard: malformed shard state")

const (
	descriptorVersion = 1
	shardStateVersion = 1
)

// MarshalDescriptor encodes d.
//
//	| field    | encoding                              |
//	|----------|---------------------------------------|
//	| version  | 1 byte (1)                            |
//	| id       | uvarint                               |
//	| start    | uvarint len, bytes                    |
//	| end      | uvarint len, bytes (empty: +inf)      |
//	| replicas | uvarint count, uvarint node IDs       |
//	| epoch    | uvarint                               |
func MarshalDescriptor(d Descriptor) []byte {
	return appendDescriptor(make([]byte, 0, descriptorSize(d)), d)
}

func descriptorSize(d Descriptor) int {
	return 1 + (4+len(d.Replicas))*binary.MaxVarintLen64 + len(d.Start) + len(d.End)
}

func appendDescriptor(buf []byte, d Descriptor) []byte {
	buf = append(buf, descriptorVersion)
	buf = binary.AppendUvarint(buf, uint64(d.ID))
	buf = appendBytes(buf, d.Start)
	buf = appendBytes(buf, d.End)
	buf = appendNodes(buf, d.Replicas)
	return binary.AppendUvarint(buf, d.Epoch)
}

// UnmarshalDescriptor decodes bytes written by [MarshalDescriptor]. Empty
// Start and End decode as nil. Malformed input yields an error wrapping
// ErrBadShardState, never a panic.
func UnmarshalDescriptor(b []byte) (Descriptor, error) {
	r := codecReader{b: append([]byte(nil), b...), sentinel: ErrBadShardState}
	d := r.descriptor()
	if err := r.finish(); err != nil {
		return Descriptor{}, err
	}
	return d, nil
}

func (r *codecReader) descriptor() Descriptor {
	var d Descriptor
	if v := r.byte("descriptor version"); r.err == nil && v != descriptorVersion {
		r.fail("descriptor version %d", v)
	}
	d.ID = ShardID(r.uvarint("id"))
	d.Start = nilIfEmpty(r.bytes("start"))
	d.End = nilIfEmpty(r.bytes("end"))
	d.Replicas = r.nodes("replicas")
	d.Epoch = r.uvarint("epoch")
	return d
}

// MarshalShardState encodes st as stored under the shard's metadata key
// and carried in snapshot streams.
//
//	| field        | encoding                                  |
//	|--------------|-------------------------------------------|
//	| version      | 1 byte (1)                                |
//	| descriptor   | as MarshalDescriptor                      |
//	| applied      | uvarint index, uvarint term               |
//	| conf state   | Voters, VotersOutgoing, Learners,         |
//	|              |   LearnersNext: each uvarint count, IDs;  |
//	|              |   then 1 byte AutoLeave                   |
func MarshalShardState(st ShardState) []byte {
	cs := st.ConfState
	n := 4 + descriptorSize(st.Desc) + (6+len(cs.Voters)+len(cs.VotersOutgoing)+len(cs.Learners)+len(cs.LearnersNext))*binary.MaxVarintLen64
	buf := make([]byte, 0, n)
	buf = append(buf, shardStateVersion)
	buf = appendDescriptor(buf, st.Desc)
	buf = binary.AppendUvarint(buf, uint64(st.Applied))
	buf = binary.AppendUvarint(buf, uint64(st.AppliedTerm))
	buf = appendNodes(buf, cs.Voters)
	buf = appendNodes(buf, cs.VotersOutgoing)
	buf = appendNodes(buf, cs.Learners)
	buf = appendNodes(buf, cs.LearnersNext)
	return append(buf, boolByte(cs.AutoLeave))
}

// UnmarshalShardState decodes bytes written by [MarshalShardState].
// Malformed input yields an error wrapping ErrBadShardState, never a panic.
func UnmarshalShardState(b []byte) (ShardState, error) {
	var st ShardState
	if len(b) < 1 || b[0] != shardStateVersion {
		return st, fmt.Errorf("%w: bad header", ErrBadShardState)
	}
	r := codecReader{b: append([]byte(nil), b[1:]...), sentinel: ErrBadShardState}
	st.Desc = r.descriptor()
	st.Applied = raftpb.Index(r.uvarint("applied"))
	st.AppliedTerm = raftpb.Term(r.uvarint("applied term"))
	st.ConfState.Voters = r.nodes("voters")
	st.ConfState.VotersOutgoing = r.nodes("voters outgoing")
	st.ConfState.Learners = r.nodes("learners")
	st.ConfState.LearnersNext = r.nodes("learners next")
	st.ConfState.AutoLeave = r.flag("auto leave")
	if err := r.finish(); err != nil {
		return ShardState{}, err
	}
	return st, nil
}

func appendNodes(buf []byte, ids []raftpb.NodeID) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(ids)))
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, uint64(id))
	}
	return buf
}

// nodes reads a node ID list; an empty list decodes as nil.
func (r *codecReader) nodes(what string) []raftpb.NodeID {
	n := r.count(what, 1)
	if n == 0 {
		return nil
	}
	ids := make([]raftpb.NodeID, n)
	for i := range ids {
		ids[i] = raftpb.NodeID(r.uvarint(what))
	}
	return ids
}

func nilIfEmpty(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return p
}
