package shard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Node-level requests between stores, for the placement layer: what a
// node hosts, and preparing a node to receive a replica. They travel on
// the same request path as forwarded client requests (kind fwdNode) and
// name no shard's leader.

const (
	nodeReport  byte = 1 // nothing; answer: the node's replicas
	nodePrepare byte = 2 // shard ID; answer: nothing
)

// ReplicaReport is one replica as its node reports it.
type ReplicaReport struct {
	Desc Descriptor
	// Conf is the membership as this replica applied it (voters and
	// learners apart).
	Conf raftpb.ConfState
	// Leader: this replica leads its shard.
	Leader bool
	// LeaderHint is the leader this replica knows of.
	LeaderHint raftpb.NodeID
	Applied    raftpb.Index
	// Bytes is the approximate size of the shard's data (0 unless asked
	// for with sizes).
	Bytes uint64
	// Requests counts the client requests this replica has taken since
	// its node started (writes and reads; a rate is the difference of
	// two reports over their interval).
	Requests uint64
}

// Report returns the replicas node hosts (this node if node is its own
// ID). With sizes, each carries its approximate data size (it costs an
// estimate per shard).
func (s *Store) Report(ctx context.Context, node raftpb.NodeID, sizes bool) ([]ReplicaReport, error) {
	if node == s.opts.NodeID {
		return s.localReport(sizes), nil
	}
	op := []byte{nodeReport, 0}
	if sizes {
		op[1] = 1
	}
	out, err := s.nodeCall(ctx, node, op)
	if err != nil {
		return nil, err
	}
	return decodeReport(out)
}

// PrepareReplicaOn runs PrepareReplica(id) on node.
func (s *Store) PrepareReplicaOn(ctx context.Context, node raftpb.NodeID, id ShardID) error {
	if node == s.opts.NodeID {
		return s.PrepareReplica(id)
	}
	_, err := s.nodeCall(ctx, node, binary.AppendUvarint([]byte{nodePrepare}, uint64(id)))
	return err
}

func (s *Store) nodeCall(ctx context.Context, node raftpb.NodeID, op []byte) ([]byte, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if s.caller == nil {
		return nil, fmt.Errorf("shard: node %d cannot reach other nodes (no transport)", s.opts.NodeID)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ans, err := s.caller.Call(ctx, node, forwardRequest{kind: fwdNode, parts: [][]byte{op}}.marshal())
	if err != nil {
		return nil, fmt.Errorf("%w: node %d: %w", ErrNoQuorum, node, err)
	}
	return decodeAnswer(0, ans)
}

// serveNode answers a node-level request.
func (s *Store) serveNode(op []byte) ([]byte, error) {
	if len(op) == 0 {
		return nil, errBadForward
	}
	switch op[0] {
	case nodeReport:
		if len(op) != 2 {
			return nil, errBadForward
		}
		return encodeReport(s.localReport(op[1] == 1)), nil
	case nodePrepare:
		id, k := binary.Uvarint(op[1:])
		if k <= 0 || k != len(op)-1 {
			return nil, errBadForward
		}
		return nil, s.PrepareReplica(ShardID(id))
	}
	return nil, errBadForward
}

func (s *Store) localReport(sizes bool) []ReplicaReport {
	rs := s.replicas(nil)
	out := make([]ReplicaReport, 0, len(rs))
	for _, r := range rs {
		v := r.view.Load() // descriptor and membership from one view
		d := &v.desc
		if !d.Initialized() {
			continue
		}
		ld := raftpb.NodeID(r.leader.Load())
		rep := ReplicaReport{Desc: *d, Conf: v.conf.Clone(), Leader: ld == s.opts.NodeID, LeaderHint: ld, Applied: raftpb.Index(r.appliedIdx.Load()), Requests: r.requests.Load()}
		if sizes && s.kv != nil {
			rep.Bytes = s.kv.approxBytes(d)
		}
		out = append(out, rep)
	}
	return out
}

func encodeReport(rs []ReplicaReport) []byte {
	b := binary.AppendUvarint(nil, uint64(len(rs)))
	for _, r := range rs {
		st := MarshalShardState(ShardState{Desc: r.Desc, ConfState: r.Conf})
		b = binary.AppendUvarint(b, uint64(len(st)))
		b = append(b, st...)
		l := uint64(0)
		if r.Leader {
			l = 1
		}
		for _, v := range []uint64{l, uint64(r.LeaderHint), uint64(r.Applied), r.Bytes, r.Requests} {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

func decodeReport(b []byte) ([]ReplicaReport, error) {
	next := func() (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, errBadForward
		}
		b = b[k:]
		return v, nil
	}
	n, err := next()
	if err != nil || n > uint64(len(b)) {
		return nil, errBadForward
	}
	out := make([]ReplicaReport, 0, n)
	for range n {
		l, err := next()
		if err != nil || l > uint64(len(b)) {
			return nil, errBadForward
		}
		st, err := UnmarshalShardState(b[:l])
		if err != nil {
			return nil, err
		}
		b = b[l:]
		var v [5]uint64
		for i := range v {
			if v[i], err = next(); err != nil {
				return nil, err
			}
		}
		out = append(out, ReplicaReport{Desc: st.Desc, Conf: st.ConfState, Leader: v[0] == 1, LeaderHint: raftpb.NodeID(v[1]),
			Applied: raftpb.Index(v[2]), Bytes: v[3], Requests: v[4]})
	}
	if len(b) != 0 {
		return nil, errors.Join(errBadForward, errors.New("trailing bytes in a node report"))
	}
	return out, nil
}
