package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/flotilladb/flotilla/placement"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// placementSource is the ClusterSource of a placement-managed node: the
// cluster as placement sees it (gossip, the meta shard, every node's
// report).
type placementSource struct{ n *placement.Node }

func (p placementSource) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	st, err := p.n.RecentStatus(ctx, time.Second)
	if err != nil {
		return ClusterStatus{}, err
	}
	out := ClusterStatus{MetaLeader: st.MetaLeader, Nodes: []NodeInfo{}, Shards: []ShardInfo{}, Moves: []MoveInfo{}}
	for _, n := range st.Nodes {
		state := NodeLive
		switch {
		case n.State == placement.NodeDecommissioned:
			state = NodeDecommissioned
		case n.Liveness == "dead" || n.Liveness == "left":
			state = NodeDead
		case n.Liveness == "suspect":
			state = NodeSuspect
		case n.State == placement.NodeDraining:
			state = NodeDraining
		}
		out.Nodes = append(out.Nodes, NodeInfo{ID: n.ID, State: state, RaftAddr: n.RaftAddr, ClientAddr: n.ClientAddr,
			HTTPAddr: n.HTTPAddr, Replicas: n.Replicas, Leaders: n.Leaders})
	}
	// The counts are of user shards, like the shard list (the meta shard
	// is placement's own table, not in the user key space).
	replicas, leaders := map[raftpb.NodeID]int{}, map[raftpb.NodeID]int{}
	for _, s := range st.Shards {
		if s.Desc.ID == shard.MetaShardID {
			continue
		}
		out.Shards = append(out.Shards, ShardInfo{ID: s.Desc.ID, Start: s.Desc.Start, End: s.Desc.End,
			Replicas: s.Desc.Replicas, Leader: s.Leader, Epoch: s.Desc.Epoch})
		for _, id := range s.Desc.Replicas {
			replicas[id]++
		}
		leaders[s.Leader]++
	}
	for i := range out.Nodes {
		n := &out.Nodes[i]
		n.Replicas, n.Leaders = replicas[n.ID], leaders[n.ID]
	}
	slices.SortFunc(out.Nodes, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(out.Shards, func(a, b ShardInfo) int { return bytes.Compare(a.Start, b.Start) })
	for _, m := range st.Moves {
		out.Moves = append(out.Moves, MoveInfo{Shard: m.Shard, From: m.From, To: m.To, Stage: m.Kind.String() + ": " + m.Stage, Since: m.Started})
	}
	return out, nil
}

// registerAdmin adds the placement admin API (POST, answers JSON):
//
//	POST /api/admin/rebalance?dry_run=true      the plan (and its execution)
//	POST /api/admin/drain?node=N&wait=true      drain a node
//	POST /api/admin/move?shard=S&from=A&to=B    move a replica (waits)
//	POST /api/admin/split?shard=S&key=K         split a shard (K optional)
//	POST /api/admin/transfer-leader?shard=S&to=B
//
// Without placement (a static cluster) they answer 501.
func (s *Server) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/admin/rebalance", s.admin(func(ctx context.Context, n *placement.Node, q query) (any, error) {
		dry, err := q.boolean("dry_run")
		if err != nil {
			return nil, err
		}
		acts, err := n.Rebalance(ctx, dry)
		out := []string{}
		for _, a := range acts {
			out = append(out, a.String())
		}
		return map[string]any{"dry_run": dry, "actions": out}, err
	}))
	mux.HandleFunc("POST /api/admin/drain", s.admin(func(ctx context.Context, n *placement.Node, q query) (any, error) {
		node, err := q.node("node")
		if err != nil {
			return nil, err
		}
		wait, err := q.boolean("wait")
		if err != nil {
			return nil, err
		}
		p, err := n.Drain(ctx, node, wait)
		return map[string]any{"node": p.Node, "replicas": p.Replicas, "leaders": p.Leaders, "done": p.Done}, err
	}))
	mux.HandleFunc("POST /api/admin/move", s.admin(func(ctx context.Context, n *placement.Node, q query) (any, error) {
		id, err := q.uint("shard")
		if err != nil {
			return nil, err
		}
		from := raftpb.NodeID(0)
		if q.r.URL.Query().Get("from") != "0" {
			if from, err = q.node("from"); err != nil {
				return nil, err
			}
		}
		to, err := q.node("to")
		if err != nil {
			return nil, err
		}
		err = n.MoveShard(ctx, shard.ShardID(id), from, to)
		return map[string]any{"shard": id, "from": from, "to": to, "done": err == nil}, err
	}))
	mux.HandleFunc("POST /api/admin/split", s.admin(func(ctx context.Context, n *placement.Node, q query) (any, error) {
		id, err := q.uint("shard")
		if err != nil {
			return nil, err
		}
		newID, err := n.SplitShard(ctx, shard.ShardID(id), []byte(q.r.URL.Query().Get("key")))
		return map[string]any{"shard": id, "new_shard": newID}, err
	}))
	mux.HandleFunc("POST /api/admin/transfer-leader", s.admin(func(ctx context.Context, n *placement.Node, q query) (any, error) {
		id, err := q.uint("shard")
		if err != nil {
			return nil, err
		}
		to, err := q.node("to")
		if err != nil {
			return nil, err
		}
		err = n.TransferLeader(ctx, shard.ShardID(id), to)
		return map[string]any{"shard": id, "leader": to}, err
	}))
}

// errBadParam marks a malformed query parameter (HTTP 400).
var errBadParam = errors.New("bad parameter")

type query struct{ r *http.Request }

func (q query) uint(name string) (uint64, error) {
	v := q.r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not a number", errBadParam, name, v)
	}
	return n, nil
}

func (q query) node(name string) (raftpb.NodeID, error) {
	n, err := q.uint(name)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: %s must be a node ID", errBadParam, name)
	}
	return raftpb.NodeID(n), err
}

func (q query) boolean(name string) (bool, error) {
	v := q.r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not true or false", errBadParam, name, v)
	}
	return b, nil
}

// admin wraps a placement admin operation as an HTTP handler.
func (s *Server) admin(op func(ctx context.Context, n *placement.Node, q query) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.opts.Placement
		if n == nil {
			writeHTTPError(w, http.StatusNotImplemented, errors.New("this node runs a static cluster: placement admin operations need gossip membership (start with --gossip-addr)"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		out, err := op(ctx, n, query{r})
		switch {
		case errors.Is(err, errBadParam):
			writeHTTPError(w, http.StatusBadRequest, err)
		case errors.Is(err, placement.ErrMoveInFlight), errors.Is(err, shard.ErrEpochMismatch):
			writeHTTPError(w, http.StatusConflict, err)
		case err != nil:
			writeHTTPError(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}
