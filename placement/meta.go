package placement

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// The meta shard's keys (in its own key space, see shard.MetaShardID):
//
//	| key                 | value                                          |
//	|---------------------|------------------------------------------------|
//	| "d/" + shard ID (BE)| shard.MarshalShardState(descriptor, membership)|
//	| "n/" + node ID (BE) | the operator's state for a node (nodeRecord)   |
//	| "m/" + shard ID (BE)| a move in flight (moveRecord)                  |
//	| "v"                 | version: a decimal counter bumped by every write|
//	| "next-id"           | the shard ID allocator (decimal)               |
//
// Every write to the meta shard is one command (atomic) that also bumps
// "v", so a node refreshes its cache only when "v" changed.
const (
	prefixDesc = "d/"
	prefixNode = "n/"
	prefixMove = "m/"
	keyVersion = "v"
	keyNextID  = "next-id"
)

func idKey(prefix string, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix), id)
}

func keyID(prefix string, k []byte) (uint64, bool) {
	if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != prefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

// NodeState is the operator's view of a node, kept in the meta shard.
// Liveness (alive, suspect, dead) comes from gossip; these states are
// decisions: a Draining node loses every replica and leadership, a
// Decommissioned one is gone for good.
type NodeState uint8

const (
	// NodeActive: a normal member (its liveness decides the rest).
	NodeActive NodeState = iota
	// NodeDraining: move everything away.
	NodeDraining
	// NodeDecommissioned: drained and removed; never given replicas.
	NodeDecommissioned
)

func (s NodeState) String() string {
	switch s {
	case NodeActive:
		return "active"
	case NodeDraining:
		return "draining"
	case NodeDecommissioned:
		return "decommissioned"
	}
	return fmt.Sprintf("NodeState(%d)", uint8(s))
}

// MoveKind is what a move does to a shard's membership.
type MoveKind uint8

// Move kinds.
const (
	MoveAdd      MoveKind = 1 // add a voter on To
	MoveReplace  MoveKind = 2 // add a voter on To, remove From
	MoveRemove   MoveKind = 3 // remove From
	MoveSplit    MoveKind = 4 // split the shard (To holds the new shard's ID)
	MoveTransfer MoveKind = 5 // leadership to To (kept only in memory)
	MoveCollect  MoveKind = 6 // delete the stale replica To holds (collect.go)
)

func (k MoveKind) String() string {
	switch k {
	case MoveAdd:
		return "add"
	case MoveReplace:
		return "replace"
	case MoveRemove:
		return "remove"
	case MoveSplit:
		return "split"
	case MoveTransfer:
		return "transfer-leader"
	case MoveCollect:
		return "collect"
	}
	return fmt.Sprintf("MoveKind(%d)", uint8(k))
}

// Move is a membership change in flight, recorded in the meta shard from
// its start to its end so that a new meta leader resumes it.
type Move struct {
	Shard    shard.ShardID
	Kind     MoveKind
	From, To raftpb.NodeID
	// SplitKey is the key a MoveSplit splits at; NewShard its new ID.
	SplitKey []byte
	NewShard shard.ShardID
	Started  time.Time
	// Stage is where the move is (for status): "learner", "catch-up",
	// "joint", "done" etc.
	Stage string
	// Reason is why the driver started it.
	Reason string
}

func (m Move) marshal() []byte {
	b := []byte{1, byte(m.Kind)}
	for _, v := range []uint64{uint64(m.From), uint64(m.To), uint64(m.NewShard), uint64(m.Started.UnixNano()), uint64(len(m.SplitKey))} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, m.SplitKey...)
	b = binary.AppendUvarint(b, uint64(len(m.Reason)))
	return append(b, m.Reason...)
}

var errBadRecord = errors.New("placement: malformed meta record")

func unmarshalMove(id shard.ShardID, b []byte) (Move, error) {
	m := Move{Shard: id}
	if len(b) < 2 || b[0] != 1 {
		return m, errBadRecord
	}
	m.Kind = MoveKind(b[1])
	b = b[2:]
	var v [5]uint64
	for i := range v {
		x, k := binary.Uvarint(b)
		if k <= 0 {
			return m, errBadRecord
		}
		v[i], b = x, b[k:]
	}
	if v[4] > uint64(len(b)) {
		return m, errBadRecord
	}
	m.From, m.To, m.NewShard = raftpb.NodeID(v[0]), raftpb.NodeID(v[1]), shard.ShardID(v[2])
	m.Started = time.Unix(0, int64(v[3]))
	m.SplitKey, b = append([]byte(nil), b[:v[4]]...), b[v[4]:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(len(b)-k) {
		return m, errBadRecord
	}
	m.Reason = string(b[k:])
	return m, nil
}

// table is a decoded copy of the meta shard.
type table struct {
	version int64
	shards  map[shard.ShardID]shard.ShardState // Desc and ConfState only
	nodes   map[raftpb.NodeID]NodeState
	moves   map[shard.ShardID]Move
}

// readTable reads the whole meta shard through st (linearizable: at the
// meta leader, forwarded if needed).
func readTable(ctx context.Context, st *shard.Store, c shard.Consistency) (*table, error) {
	t := &table{shards: map[shard.ShardID]shard.ShardState{}, nodes: map[raftpb.NodeID]NodeState{}, moves: map[shard.ShardID]Move{}}
	kvs, err := st.ScanShard(ctx, shard.MetaShardID, nil, nil, 1<<20, c)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		switch {
		case string(kv.Key) == keyVersion:
			fmt.Sscan(string(kv.Value), &t.version)
		case hasPrefix(kv.Key, prefixDesc):
			id, ok := keyID(prefixDesc, kv.Key)
			s, err := shard.UnmarshalShardState(kv.Value)
			if !ok || err != nil {
				return nil, fmt.Errorf("%w: descriptor key %q: %v", errBadRecord, kv.Key, err)
			}
			t.shards[shard.ShardID(id)] = s
		case hasPrefix(kv.Key, prefixNode):
			id, ok := keyID(prefixNode, kv.Key)
			if !ok || len(kv.Value) != 1 {
				return nil, fmt.Errorf("%w: node key %q", errBadRecord, kv.Key)
			}
			t.nodes[raftpb.NodeID(id)] = NodeState(kv.Value[0])
		case hasPrefix(kv.Key, prefixMove):
			id, ok := keyID(prefixMove, kv.Key)
			m, err := unmarshalMove(shard.ShardID(id), kv.Value)
			if !ok || err != nil {
				return nil, fmt.Errorf("%w: move key %q", errBadRecord, kv.Key)
			}
			t.moves[m.Shard] = m
		}
	}
	return t, nil
}

func hasPrefix(k []byte, p string) bool { return len(k) >= len(p) && string(k[:len(p)]) == p }

// metaWrite is one atomic write to the meta shard.
type metaWrite struct{ ops []shard.Op }

func (w *metaWrite) setShard(st shard.ShardState) {
	v := shard.MarshalShardState(shard.ShardState{Desc: st.Desc, ConfState: st.ConfState})
	w.ops = append(w.ops, shard.Op{Kind: shard.OpPut, Key: idKey(prefixDesc, uint64(st.Desc.ID)), Value: v})
}

func (w *metaWrite) setNode(id raftpb.NodeID, s NodeState) {
	w.ops = append(w.ops, shard.Op{Kind: shard.OpPut, Key: idKey(prefixNode, uint64(id)), Value: []byte{byte(s)}})
}

// commit applies the writes and bumps the version, atomically.
func (w *metaWrite) commit(ctx context.Context, st *shard.Store) error {
	if len(w.ops) == 0 {
		return nil
	}
	ops := append(w.ops, shard.Op{Kind: shard.OpIncr, Key: []byte(keyVersion), Value: []byte("1")})
	_, err := execMeta(ctx, st, shard.Command{Ops: ops})
	return err
}

// allocShardID returns a fresh shard ID, above every ID in t.
func allocShardID(ctx context.Context, st *shard.Store, t *table) (shard.ShardID, error) {
	var maxID shard.ShardID
	for id := range t.shards {
		maxID = max(maxID, id)
	}
	for {
		n, err := st.ExecShard(ctx, shard.MetaShardID, shard.Command{Ops: []shard.Op{{Kind: shard.OpIncr, Key: []byte(keyNextID), Value: []byte("1")}}})
		if err != nil {
			return 0, err
		}
		var v uint64
		if len(n.Values) == 1 {
			fmt.Sscan(string(n.Values[0]), &v)
		}
		if shard.ShardID(v) > maxID {
			return shard.ShardID(v), nil
		}
		// First use: jump past the IDs in use in one step.
		_, err = st.ExecShard(ctx, shard.MetaShardID, shard.Command{Ops: []shard.Op{{Kind: shard.OpIncr, Key: []byte(keyNextID),
			Value: []byte(fmt.Sprint(uint64(maxID) - v + 1))}}})
		if err != nil {
			return 0, err
		}
	}
}
