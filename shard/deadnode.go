package shard

import (
	"slices"
	"sync"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Failover. A follower hears of its leader's death in one of two ways: by
// its own election timeout (10-20 ticks of silence, randomized), or from
// membership declaring the leader's node dead (NodeDead). Waiting out the
// timeouts costs every shard of the dead node up to two election timeouts
// before its first campaign, and survivors that campaign at the same time
// split the vote. So on NodeDead every follower of the dead node forgets
// its leader (which ends the CheckQuorum lease that makes voters refuse to
// elect another: raftgroup.Group.ForgetLeader), and exactly one survivor
// per shard campaigns at once: the lowest-numbered voter not known dead.
// The others campaign only if their own timeout passes without a leader,
// which is the fallback when the chosen one cannot win (its log is behind,
// or it has not heard of the death yet when the others have).

// deadSet is the nodes membership declared dead and not seen alive since.
type deadSet struct {
	mu    sync.Mutex
	nodes map[raftpb.NodeID]struct{}
}

func (d *deadSet) add(id raftpb.NodeID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nodes == nil {
		d.nodes = make(map[raftpb.NodeID]struct{})
	}
	d.nodes[id] = struct{}{}
}

func (d *deadSet) remove(id raftpb.NodeID) {
	d.mu.Lock()
	delete(d.nodes, id)
	d.mu.Unlock()
}

// firstLive returns the lowest voter not in the set (None if all are).
func (d *deadSet) firstLive(voters []raftpb.NodeID) raftpb.NodeID {
	d.mu.Lock()
	defer d.mu.Unlock()
	first := raftpb.None
	for _, v := range voters {
		if _, dead := d.nodes[v]; !dead && (first == raftpb.None || v < first) {
			first = v
		}
	}
	return first
}

// NodeDead tells the store that node id is gone (membership declared it
// dead). Every local replica whose leader was there is woken and forgets
// that leader; the replica on the lowest-numbered live voter of each such
// shard campaigns at once (see the comment at the top of this file). A
// quiesced follower never campaigns on its own, so without this its shard
// would stay leaderless. It returns the number of replicas woken.
func (s *Store) NodeDead(id raftpb.NodeID) int {
	s.dead.add(id)
	n := 0
	for _, r := range s.replicas(nil) {
		if raftpb.NodeID(r.leader.Load()) != id {
			continue
		}
		campaign := false
		if cs := r.confState(); len(cs.VotersOutgoing) == 0 && slices.Contains(cs.Voters, s.opts.NodeID) {
			campaign = s.dead.firstLive(cs.Voters) == s.opts.NodeID
		}
		r.leaderDead(id, campaign)
		n++
	}
	return n
}

// NodeAlive tells the store that node id is back (membership saw it join
// or come back): it counts again when NodeDead picks who campaigns.
func (s *Store) NodeAlive(id raftpb.NodeID) { s.dead.remove(id) }
