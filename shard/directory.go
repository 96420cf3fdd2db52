package shard

import (
	"context"
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Directory tells a node where the shards it does not host live. The
// placement layer implements it from its cached copy of the meta shard;
// without one (Options.Directory nil) a node serves only the shards it
// hosts, as in a static cluster where every node hosts every shard.
// Entries may be stale: a request sent by a stale entry fails at the
// other node with *NotLeaderError, ErrNoShard or ErrShardMoved, and the
// store tries the next candidate.
type Directory interface {
	// Shard returns shard id's descriptor and its last known leader
	// (raftpb.None if unknown).
	Shard(id ShardID) (Descriptor, raftpb.NodeID, bool)
	// ShardFor returns the shard whose range holds key.
	ShardFor(key []byte) (Descriptor, raftpb.NodeID, bool)
	// Shards returns the shards intersecting [start, end) (end empty:
	// unbounded) in key order.
	Shards(start, end []byte) []Descriptor
	// NoteLeader records that node answered a request for shard id as
	// its leader (a hint for the next request).
	NoteLeader(id ShardID, node raftpb.NodeID)
}

// maxForwardHops bounds how many nodes one request tries.
const maxForwardHops = 4

// forwardAnywhere sends req for shard id, which this node does not host,
// to the node the directory says leads it, then to its other replicas,
// following leader hints.
func (s *Store) forwardAnywhere(ctx context.Context, id ShardID, req forwardRequest) ([]byte, error) {
	if s.caller == nil {
		return nil, fmt.Errorf("%w: shard %d is not on node %d", ErrNoShard, id, s.opts.NodeID)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for {
		out, retry, err := s.forwardRound(ctx, id, req)
		// Every candidate said "not leader" or "no quorum": an election
		// is under way (the leader just left, or died). Wait a tick.
		if !retry || !s.awaitElection(ctx) {
			return out, err
		}
	}
}

// forwardRound tries the shard's leader and replicas once; retry reports
// that nobody could take the request yet but a later round may.
func (s *Store) forwardRound(ctx context.Context, id ShardID, req forwardRequest) ([]byte, bool, error) {
	var d Descriptor
	var leader raftpb.NodeID
	ok := false
	if r := s.replica(id); r != nil && r.descriptor().Initialized() {
		// A local replica that is not the leader, or whose leader hint
		// proved stale: its descriptor still names the other members.
		d, leader, ok = *r.descriptor(), raftpb.NodeID(r.leader.Load()), true
	} else if s.opts.Directory != nil {
		d, leader, ok = s.opts.Directory.Shard(id)
	}
	if !ok {
		return nil, false, fmt.Errorf("%w: shard %d is unknown to node %d", ErrNoShard, id, s.opts.NodeID)
	}
	var tried []raftpb.NodeID
	candidates := make([]raftpb.NodeID, 0, len(d.Replicas)+1)
	if leader != raftpb.None {
		candidates = append(candidates, leader)
	}
	candidates = append(candidates, d.Replicas...)
	var lastErr error
	retry := false
	for len(candidates) > 0 && len(tried) < max(maxForwardHops, len(d.Replicas)+1) {
		to := candidates[0]
		candidates = candidates[1:]
		if to == s.opts.NodeID || containsNode(tried, to) {
			continue
		}
		tried = append(tried, to)
		out, err := s.forward(ctx, to, req)
		var nl *NotLeaderError
		switch {
		case err == nil:
			if s.opts.Directory != nil {
				s.opts.Directory.NoteLeader(id, to)
			}
			return out, false, nil
		case errors.As(err, &nl):
			retry = true
			if nl.Leader != raftpb.None && !containsNode(tried, nl.Leader) {
				candidates = append([]raftpb.NodeID{nl.Leader}, candidates...)
			}
		case errors.Is(err, ErrNoQuorum):
			retry = true
		case errors.Is(err, ErrNoShard), errors.Is(err, ErrShardMoved):
		default:
			return nil, false, err
		}
		lastErr = err
		if ctx.Err() != nil {
			return nil, false, lastErr
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: no other replica of shard %d to ask", ErrNoShard, id)
	}
	return nil, retry, lastErr
}

// remoteShardFor returns the shard the directory says holds key, for a
// key no local replica covers.
func (s *Store) remoteShardFor(key []byte) (ShardID, bool) {
	if s.opts.Directory == nil {
		return 0, false
	}
	d, _, ok := s.opts.Directory.ShardFor(key)
	return d.ID, ok
}

// scanPlan lists the shards a scan of [start, end) visits, in key order:
// the directory's view when there is one (it knows the shards this node
// does not host), else the local replicas.
func (s *Store) scanPlan(start, end []byte) []Descriptor {
	if s.opts.Directory != nil {
		if ds := s.opts.Directory.Shards(start, end); len(ds) > 0 {
			return ds
		}
	}
	rs := s.routes.from(start, end)
	out := make([]Descriptor, len(rs))
	for i, r := range rs {
		out[i] = *r.descriptor()
	}
	return out
}

// scanRemote scans shard id, which this node does not host.
func (s *Store) scanRemote(ctx context.Context, id ShardID, lo, hi []byte, limit int, c Consistency) ([]KeyValue, error) {
	ans, err := s.forwardAnywhere(ctx, id, scanRequest(id, lo, hi, limit, c))
	if err != nil {
		return nil, err
	}
	return decodePairs(ans)
}

// ExecShard runs cmd on shard id, named by ID rather than found by key
// (placement uses it for the meta shard, which no user key routes to).
// Every key of cmd must lie in the shard's range.
func (s *Store) ExecShard(ctx context.Context, id ShardID, cmd Command) (Result, error) {
	if err := s.usable(); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.followLeader(ctx, func(ctx context.Context) error {
		d := dest{id: id}
		if r := s.replica(id); r != nil && r.descriptor().Initialized() {
			d.r = r
		}
		var err error
		res, err = s.execAt(ctx, d, cmd)
		return err
	})
	return res, err
}

// ScanShard scans shard id, named by ID, at consistency c (see ExecShard).
func (s *Store) ScanShard(ctx context.Context, id ShardID, start, end []byte, limit int, c Consistency) ([]KeyValue, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if r := s.replica(id); r != nil && r.descriptor().Initialized() {
		kvs, err := s.scanLocal(ctx, r, start, end, limit, c)
		to, ok := s.forwardTarget(err)
		if !ok {
			return kvs, err
		}
		return s.forwardScan(ctx, to, id, start, end, limit, c)
	}
	return s.scanRemote(ctx, id, start, end, limit, c)
}
