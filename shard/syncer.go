package shard

import (
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// runSyncer takes a state machine sync point every SyncInterval. Applies
// are committed without sync; a sync point makes every one before it
// durable, so the applied index each shard had before the sync point is
// durable after it, and the shard's log may be truncated up to it.
func (s *Store) runSyncer() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	var rs []*replica
	var applied []raftpb.Index
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		rs = s.replicas(rs[:0])
		applied = applied[:0]
		for _, r := range rs {
			applied = append(applied, raftpb.Index(r.appliedIdx.Load()))
		}
		if err := s.sm.SyncPoint(); err != nil {
			s.fail(err)
			return
		}
		s.m.syncPoints.Add(1)
		for i, r := range rs {
			if r.durableIdx.Load() < uint64(applied[i]) {
				r.durableIdx.Store(uint64(applied[i]))
				if applied[i] > r.compactedIdx.Load()+raftpb.Index(s.opts.MaxLogEntries) {
					s.sched.enqueue(r)
				}
			}
		}
	}
}

// truncation returns the index up to which r's log should be truncated in
// this round, or 0. It keeps what followers still need unless that is more
// than MaxLogEntries (a snapshot is then cheaper than the log).
func (r *replica) truncation() raftpb.Index {
	durable := raftpb.Index(r.durableIdx.Load())
	compacted := r.compactedIdx.Load()
	limit := raftpb.Index(r.store.opts.MaxLogEntries)
	if durable <= compacted+limit {
		return 0
	}
	target := durable
	if st := r.g.Status(); st.Progress != nil {
		minMatch := durable
		for id, pr := range st.Progress {
			if id != r.store.opts.NodeID && pr.Match < minMatch {
				minMatch = pr.Match
			}
		}
		if durable-minMatch <= limit {
			target = minMatch
		}
	}
	if target <= compacted {
		return 0
	}
	return target
}
