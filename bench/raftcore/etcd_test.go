package raftcore

import (
	"fmt"
	"github.com/flotilladb/flotilla/raftgroup/raftbench"
	"io"
	"log"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// etcdReplica drives a go.etcd.io/raft/v3 RawNode.
type etcdReplica struct {
	id        uint64
	rn        *raft.RawNode
	st        *raft.MemoryStorage
	applied   uint64
	proposals int
	// each proposes entry by entry with RawNode.Propose instead of one
	// MsgProp per batch.
	each bool
}

// newEtcdCluster returns an etcd raft cluster with node 1 elected. With
// each, batches are proposed one RawNode.Propose at a time.
func newEtcdCluster(each bool) (*raftbench.Cluster[*pb.Message, *etcdReplica], error) {
	ids := []uint64{1, 2, 3}
	logger := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	nodes := make([]*etcdReplica, len(ids))
	for i, id := range ids {
		st := raft.NewMemoryStorage()
		// The membership comes from a snapshot holding only a ConfState,
		// the bootstrap etcd itself uses; the log starts empty, as
		// raftgroup's does.
		err := st.ApplySnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: &pb.ConfState{Voters: ids}}})
		if err != nil {
			return nil, err
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID:            id,
			ElectionTick:  10,
			HeartbeatTick: 1,
			Storage:       st,
			// raftgroup's defaults (config.go), so both sides batch and
			// pipeline alike.
			MaxSizePerMsg:             1 << 20,
			MaxInflightMsgs:           256,
			MaxInflightBytes:          32 << 20,
			MaxUncommittedEntriesSize: 64 << 20,
			MaxCommittedSizePerReady:  64 << 20,
			PreVote:                   true,
			CheckQuorum:               true,
			Logger:                    logger,
		})
		if err != nil {
			return nil, err
		}
		nodes[i] = &etcdReplica{id: id, rn: rn, st: st, each: each}
	}
	return raftbench.NewCluster(nodes, func(m *pb.Message) int { return int(m.GetTo()) - 1 })
}

func (r *etcdReplica) Campaign() error { return r.rn.Campaign() }

// Propose steps one MsgProp carrying all n entries, the way CockroachDB
// batches proposals (RawNode.Propose would send a MsgApp per entry: etcd
// raft broadcasts on every MsgProp), or with each calls RawNode.Propose n
// times.
func (r *etcdReplica) Propose(data []byte, n int) error {
	if r.each {
		for range n {
			if err := r.rn.Propose(data); err != nil {
				return err
			}
		}
		return nil
	}
	// NB: a fresh slice each time: etcd raft keeps the entries in its log.
	ents := make([]*pb.Entry, n)
	for i := range ents {
		ents[i] = &pb.Entry{Data: data}
	}
	return r.rn.Step(&pb.Message{Type: pb.MsgProp.Enum(), From: new(r.id), Entries: ents})
}

func (r *etcdReplica) HandleReady(out []*pb.Message) ([]*pb.Message, bool, error) {
	if !r.rn.HasReady() {
		return out, false, nil
	}
	rd := r.rn.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		return out, true, fmt.Errorf("raftcore: unexpected snapshot at %d", rd.Snapshot.GetMetadata().GetIndex())
	}
	if err := r.st.Append(rd.Entries); err != nil {
		return out, true, err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := r.st.SetHardState(rd.HardState); err != nil {
			return out, true, err
		}
	}
	out = append(out, rd.Messages...)
	for _, e := range rd.CommittedEntries {
		if len(e.GetData()) > 0 {
			r.proposals++
		}
		r.applied = e.GetIndex()
	}
	r.rn.Advance(rd)
	return out, true, nil
}

func (r *etcdReplica) Step(m *pb.Message) error { return r.rn.Step(m) }
func (r *etcdReplica) AppliedProposals() int    { return r.proposals }
func (r *etcdReplica) AppliedIndex() uint64     { return r.applied }
func (r *etcdReplica) Compact(i uint64) error   { return r.st.Compact(i) }
func (r *etcdReplica) IsLeader() bool           { return r.rn.BasicStatus().RaftState == raft.StateLeader }
