package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is the simulated cluster the tests apply Plan's actions to: the
// snapshot itself, plus moves in flight with the steps they have left.
type model struct {
	c       Cluster
	cfg     Config
	rng     *rand.Rand
	pending []pendingMove // parallel to c.InFlight
	nextID  ShardID
}

type pendingMove struct {
	a    Action
	left int // steps before it completes
}

// newModel builds nodes 1..nodes (all Live) and shards 1..shards with
// replicas voters each on random distinct nodes and a random leader, plus
// the meta shard 0 when meta is set.
func newModel(seed uint64, cfg Config, nodes, shards, replicas int, meta bool) *model {
	m := &model{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := 1; i <= nodes; i++ {
		m.c.Nodes = append(m.c.Nodes, Node{ID: NodeID(i), Capacity: 1 << 40})
	}
	if meta {
		m.c.Shards = append(m.c.Shards, m.randomShard(0, min(5, nodes)))
		m.c.Shards[0].Meta = true
	}
	for i := 1; i <= shards; i++ {
		m.c.Shards = append(m.c.Shards, m.randomShard(ShardID(i), replicas))
	}
	m.nextID = ShardID(shards + 1)
	return m
}

func (m *model) randomShard(id ShardID, replicas int) Shard {
	perm := m.rng.Perm(len(m.c.Nodes))[:min(replicas, len(m.c.Nodes))]
	s := Shard{ID: id, Epoch: 1, SizeBytes: uint64(1 + m.rng.IntN(64<<20)), RequestsPerSec: m.rng.Float64() * 100}
	for _, i := range perm {
		s.Voters = append(s.Voters, m.c.Nodes[i].ID)
	}
	s.Leader = s.Voters[m.rng.IntN(len(s.Voters))]
	return s
}

func (m *model) nodeIndex(id NodeID) int {
	return slices.IndexFunc(m.c.Nodes, func(n Node) bool { return n.ID == id })
}

func (m *model) shard(id ShardID) *Shard {
	i := slices.IndexFunc(m.c.Shards, func(s Shard) bool { return s.ID == id })
	if i < 0 {
		return nil
	}
	return &m.c.Shards[i]
}

// setState changes a node's state and DownFor; a node that stops being up
// loses its leaderships to other up voters, as Raft would elect them.
func (m *model) setState(id NodeID, st NodeState, downFor time.Duration) {
	n := &m.c.Nodes[m.nodeIndex(id)]
	n.State, n.DownFor = st, downFor
	if st == Live || st == Draining {
		return
	}
	for i := range m.c.Shards {
		if m.c.Shards[i].Leader == id {
			m.elect(&m.c.Shards[i])
		}
	}
}

func (m *model) up(id NodeID) bool {
	i := m.nodeIndex(id)
	return i >= 0 && (m.c.Nodes[i].State == Live || m.c.Nodes[i].State == Draining)
}

// elect gives s a random up voter as leader, or none.
func (m *model) elect(s *Shard) {
	var ups []NodeID
	for _, v := range s.Voters {
		if m.up(v) && v != s.Leader {
			ups = append(ups, v)
		}
	}
	s.Leader = 0
	if len(ups) > 0 {
		s.Leader = ups[m.rng.IntN(len(ups))]
	}
}

// start applies one step's actions: transfers and splits at once, moves
// into flight for maxDelay steps at most (0: they complete at once).
func (m *model) start(t *testing.T, acts []Action, maxDelay int) {
	t.Helper()
	for _, a := range acts {
		if !a.Kind.isMove() {
			m.complete(t, a)
			continue
		}
		d := 0
		if maxDelay > 0 {
			d = m.rng.IntN(maxDelay + 1)
		}
		if d == 0 {
			m.complete(t, a)
			continue
		}
		m.c.InFlight = append(m.c.InFlight, Move{Shard: a.Shard, From: a.From, To: a.To})
		m.pending = append(m.pending, pendingMove{a: a, left: d})
		if a.To != 0 {
			// The driver adds the target as a learner first.
			s := m.shard(a.Shard)
			s.Learners = append(s.Learners, a.To)
		}
	}
}

// tick completes the moves in flight whose time has come.
func (m *model) tick(t *testing.T) {
	t.Helper()
	var keepM []Move
	var keepP []pendingMove
	for i, p := range m.pending {
		p.left--
		if p.left > 0 {
			keepM, keepP = append(keepM, m.c.InFlight[i]), append(keepP, p)
			continue
		}
		if p.a.To != 0 {
			s := m.shard(p.a.Shard)
			s.Learners = slices.DeleteFunc(s.Learners, func(n NodeID) bool { return n == p.a.To })
		}
		m.complete(t, p.a)
	}
	m.c.InFlight, m.pending = keepM, keepP
}

// complete carries out one action on the model, failing the test if the
// action is not one the cluster could carry out.
func (m *model) complete(t *testing.T, a Action) {
	t.Helper()
	s := m.shard(a.Shard)
	if s == nil {
		t.Fatalf("%v: no such shard", a)
	}
	switch a.Kind {
	case AddReplica:
		s.Voters = append(s.Voters, a.To)
	case MoveReplica:
		i := slices.Index(s.Voters, a.From)
		if i < 0 {
			t.Fatalf("%v: source is not a voter of %v", a, s.Voters)
		}
		s.Voters[i] = a.To
		if s.Leader == a.From {
			m.elect(s)
		}
	case RemoveReplica:
		s.Voters = slices.DeleteFunc(s.Voters, func(n NodeID) bool { return n == a.From })
		s.Learners = slices.DeleteFunc(s.Learners, func(n NodeID) bool { return n == a.From })
		if s.Leader == a.From {
			m.elect(s)
		}
	case TransferLeader:
		s.Leader = a.To
	case Split:
		r := *s
		r.ID, r.Start, r.Epoch = m.nextID, []byte(fmt.Sprint(m.nextID)), 1
		m.nextID++
		s.SizeBytes, r.SizeBytes = s.SizeBytes/2, s.SizeBytes-s.SizeBytes/2
		s.RequestsPerSec, r.RequestsPerSec = s.RequestsPerSec/2, s.RequestsPerSec/2
		r.Voters, r.Learners = slices.Clone(s.Voters), slices.Clone(s.Learners)
		s.Epoch++
		m.c.Shards = append(m.c.Shards, r)
	default:
		t.Fatalf("%v: unknown kind", a)
	}
	if a.Kind.isMove() {
		s.Epoch++
	}
}

// clone returns a deep copy of the snapshot, so tests can compare before
// and after.
func (c Cluster) clone() Cluster {
	out := Cluster{Nodes: slices.Clone(c.Nodes), InFlight: slices.Clone(c.InFlight)}
	out.Shards = make([]Shard, len(c.Shards))
	for i, s := range c.Shards {
		s.Voters, s.Learners = slices.Clone(s.Voters), slices.Clone(s.Learners)
		out.Shards[i] = s
	}
	return out
}
