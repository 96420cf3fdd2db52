package raftcore

import (
	"fmt"
	"io"
	"log"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// etcdReplica drives a go.etcd.io/raft/v3 RawNode.
type etcdReplica struct {
	rn        *raft.RawNode
	st        *raft.MemoryStorage
	applied   uint64
	proposals int
}

func newEtcdCluster() (*cluster[*pb.Message, *etcdReplica], error) {
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
		nodes[i] = &etcdReplica{rn: rn, st: st}
	}
	return newCluster(nodes, func(m *pb.Message) int { return int(m.GetTo()) - 1 })
}

func (r *etcdReplica) campaign() error           { return r.rn.Campaign() }
func (r *etcdReplica) propose(data []byte) error { return r.rn.Propose(data) }

func (r *etcdReplica) handleReady(out []*pb.Message) ([]*pb.Message, bool, error) {
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

func (r *etcdReplica) step(m *pb.Message) error { return r.rn.Step(m) }
func (r *etcdReplica) appliedProposals() int    { return r.proposals }
func (r *etcdReplica) appliedIndex() uint64     { return r.applied }
func (r *etcdReplica) compact(i uint64) error   { return r.st.Compact(i) }
func (r *etcdReplica) isLeader() bool           { return r.rn.BasicStatus().RaftState == raft.StateLeader }
