package shard

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// NodeDead tells the store that node id is gone (membership declared it
// dead). Every local replica whose leader was there is woken: a quiesced
// follower never campaigns on its own, so without this its shard would
// stay leaderless. It returns the number of replicas woken.
func (s *Store) NodeDead(id raftpb.NodeID) int {
	n := 0
	for _, r := range s.replicas(nil) {
		if raftpb.NodeID(r.leader.Load()) == id {
			r.wakeUp()
			n++
		}
	}
	return n
}
