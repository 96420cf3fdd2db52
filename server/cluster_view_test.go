package server

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// jsonKeys returns the sorted keys of a decoded JSON object.
func jsonKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// TestClusterAPI: the default cluster view of a static 3-node cluster
// lists every node with its replica and leader counts, every shard with
// its range as strings, an empty (not null) moves list, in the JSON shape
// docs/operations.md documents.
func TestClusterAPI(t *testing.T) {
	nodes := openCluster(t)
	base := "http://" + nodes[1].Server.HTTPAddr()
	code, body := httpDo(t, "GET", base+"/api/cluster", "")
	if code != 200 {
		t.Fatalf("/api/cluster = %d %s", code, body)
	}
	var raw map[string]any
	must(t, json.Unmarshal([]byte(body), &raw))
	if got := jsonKeys(raw); !slices.Equal(got, []string{"meta_leader", "moves", "nodes", "shards"}) {
		t.Fatalf("top-level keys %v", got)
	}
	if !strings.Contains(body, `"moves": []`) {
		t.Fatalf("moves is not an empty list: %s", body)
	}
	node0 := raw["nodes"].([]any)[0].(map[string]any)
	if got := jsonKeys(node0); !slices.Equal(got, []string{"client_addr", "http_addr", "id", "leaders", "raft_addr", "replicas", "state"}) {
		t.Fatalf("node keys %v", got)
	}
	shard0 := raw["shards"].([]any)[0].(map[string]any)
	if got := jsonKeys(shard0); !slices.Equal(got, []string{"end", "epoch", "id", "leader", "replicas", "start"}) {
		t.Fatalf("shard keys %v", got)
	}

	var cs ClusterStatus
	must(t, json.Unmarshal([]byte(body), &cs))
	if len(cs.Nodes) != 3 || len(cs.Shards) != 4 || len(cs.Moves) != 0 || cs.MetaLeader != 0 {
		t.Fatalf("cluster = %+v", cs)
	}
	leaders := 0
	for i, n := range cs.Nodes {
		if n.ID != raftpb.NodeID(i+1) || n.State != NodeLive || n.Replicas != 4 || n.RaftAddr == "" {
			t.Fatalf("node %d = %+v", i+1, n)
		}
		leaders += n.Leaders
	}
	if leaders != 4 {
		t.Fatalf("leader counts add up to %d, want 4 (one per shard)", leaders)
	}
	if me := cs.Nodes[1]; me.ClientAddr != nodes[1].Server.ClientAddr() || me.HTTPAddr != nodes[1].Server.HTTPAddr() {
		t.Fatalf("node 2's own addresses: %+v", me)
	}
	want := []string{"", "k2500", "k5000", "k7500", ""}
	for i, s := range cs.Shards {
		if string(s.Start) != want[i] || string(s.End) != want[i+1] || len(s.Replicas) != 3 || s.Leader == 0 || s.Epoch == 0 {
			t.Fatalf("shard %d = %+v", i, s)
		}
	}
}

// TestShardInfoJSON: keys are JSON strings; a key that is not UTF-8 also
// comes exactly in *_base64, and the JSON reads back to the same shard.
func TestShardInfoJSON(t *testing.T) {
	in := ShardInfo{ID: 7, Start: []byte("a\xffb"), End: []byte("m"), Replicas: []raftpb.NodeID{1, 2}, Leader: 2, Epoch: 3}
	b, err := json.Marshal(in)
	must(t, err)
	var raw map[string]any
	must(t, json.Unmarshal(b, &raw))
	if raw["end"] != "m" || raw["start_base64"] != "Yf9i" || raw["end_base64"] != nil {
		t.Fatalf("JSON %s", b)
	}
	var out ShardInfo
	must(t, json.Unmarshal(b, &out))
	if string(out.Start) != string(in.Start) || string(out.End) != "m" || out.ID != 7 || out.Leader != 2 ||
		out.Epoch != 3 || !slices.Equal(out.Replicas, in.Replicas) {
		t.Fatalf("round trip: %+v", out)
	}
	b, err = json.Marshal(ShardInfo{ID: 1})
	must(t, err)
	if string(b) != `{"id":1,"start":"","end":"","replicas":[],"leader":0,"epoch":0}` {
		t.Fatalf("whole key space: %s", b)
	}
}

// fakeCluster is a ClusterSource with a fixed answer.
type fakeCluster struct {
	cs  ClusterStatus
	err error
}

func (f fakeCluster) ClusterStatus(ctx context.Context) (ClusterStatus, error) { return f.cs, f.err }

// TestClusterSourceOption: Options.Cluster replaces the default view,
// and its error becomes a JSON error answer.
func TestClusterSourceOption(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	src := &fakeCluster{cs: ClusterStatus{
		Nodes:      []NodeInfo{{ID: 4, State: NodeDraining}, {ID: 5, State: NodeDead}},
		Moves:      []MoveInfo{{Shard: 9, From: 4, To: 5, Stage: "learner", Since: since}},
		MetaLeader: 5,
	}}
	n := openSingle(t, func(o *NodeOptions) { o.Server.Cluster = src })
	base := "http://" + n.Server.HTTPAddr()
	code, body := httpDo(t, "GET", base+"/api/cluster", "")
	var cs ClusterStatus
	must(t, json.Unmarshal([]byte(body), &cs))
	if code != 200 || len(cs.Nodes) != 2 || cs.Nodes[0].State != NodeDraining || cs.MetaLeader != 5 ||
		len(cs.Moves) != 1 || !cs.Moves[0].Since.Equal(since) || cs.Shards == nil {
		t.Fatalf("/api/cluster = %d %s", code, body)
	}
	if !strings.Contains(body, `"since": "2026-12-01T10:00:00Z"`) || !strings.Contains(body, `"shards": []`) {
		t.Fatalf("JSON shape: %s", body)
	}
	src.err = errors.New("placement: table not loaded")
	code, body = httpDo(t, "GET", base+"/api/cluster", "")
	if code != 500 || !strings.Contains(body, "placement: table not loaded") {
		t.Fatalf("failing source: %d %s", code, body)
	}
}

// TestLivenessEvents: Liveness follows the transport's events and keeps
// the callbacks that were there before.
func TestLivenessEvents(t *testing.T) {
	var l Liveness
	var before []string
	ev := transport.EventListener{
		PeerConnected:   func(p raftpb.NodeID) { before = append(before, "up") },
		PeerUnreachable: func(p raftpb.NodeID, err error) { before = append(before, "down") },
	}
	l.Watch(&ev)
	if l.State(2) != NodeLive {
		t.Fatalf("unheard-of peer is %s", l.State(2))
	}
	ev.PeerUnreachable(2, errors.New("refused"))
	if l.State(2) != NodeSuspect || l.State(3) != NodeLive {
		t.Fatalf("after unreachable: 2 %s, 3 %s", l.State(2), l.State(3))
	}
	ev.PeerConnected(2)
	if l.State(2) != NodeLive || !slices.Equal(before, []string{"down", "up"}) {
		t.Fatalf("after reconnect: %s, earlier callbacks ran %v", l.State(2), before)
	}
}

// TestClusterNodeSuspect: with Liveness hooked to the transport, a node
// whose peer stops shows that peer as suspect in its cluster view.
func TestClusterNodeSuspect(t *testing.T) {
	nodes := openClusterWith(t, func(o *NodeOptions) {
		o.Server.Liveness = &Liveness{}
		o.Server.Liveness.Watch(&o.Store.TransportOptions.Events)
	})
	must(t, nodes[2].Close())
	src := nodes[0].Server.clusterSource()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := src.ClusterStatus(context.Background())
		must(t, err)
		// (A peer dialled before it listened, at start-up, is suspect
		// until the retry connects: wait for the settled view.)
		if cs.Nodes[2].State == NodeSuspect && cs.Nodes[0].State == NodeLive && cs.Nodes[1].State == NodeLive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want nodes 1, 2 live and the stopped node 3 suspect; got %s, %s, %s",
				cs.Nodes[0].State, cs.Nodes[1].State, cs.Nodes[2].State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRateSampler: rates are counter deltas over the time between
// samples; polls closer than minRateInterval add no point; a pause longer
// than maxRateGap restarts the series; at most maxRateSamples points.
func TestRateSampler(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var next rateSample
	rs := &rateSampler{node: 1, take: func() rateSample { return next }}
	at := func(d time.Duration, writes, reads, fsyncs uint64) []RatePoint {
		next = rateSample{at: t0.Add(d), writes: writes, reads: reads, fsyncs: fsyncs}
		return rs.points()
	}
	if p := at(0, 10, 0, 5); len(p) != 0 {
		t.Fatalf("first sample gave %v", p)
	}
	p := at(2*time.Second, 210, 100, 25)
	if len(p) != 1 || p[0].Writes != 100 || p[0].Reads != 50 || p[0].Ops != 150 || p[0].Fsyncs != 10 {
		t.Fatalf("after 2s: %+v", p)
	}
	if p := at(2*time.Second+100*time.Millisecond, 1000, 100, 25); len(p) != 1 {
		t.Fatalf("a poll 100ms later added a point: %+v", p)
	}
	if p := at(time.Minute, 2000, 100, 25); len(p) != 0 {
		t.Fatalf("after a pause the series went on: %+v", p)
	}
	for i := 1; i <= 2*maxRateSamples; i++ {
		p = at(time.Minute+time.Duration(i)*time.Second, 2000+uint64(i), 100, 25)
	}
	if len(p) != maxRateSamples || p[len(p)-1].Writes != 1 || !p[len(p)-1].Time.Equal(t0.Add(time.Minute+2*maxRateSamples*time.Second)) {
		t.Fatalf("%d points, last %+v", len(p), p[len(p)-1])
	}
}

// TestDashboardServed: / is the dashboard page, its assets are under
// /dashboard/, and /api/rates answers in its documented shape.
func TestDashboardServed(t *testing.T) {
	n := openSingle(t, nil)
	base := "http://" + n.Server.HTTPAddr()
	code, body := httpDo(t, "GET", base+"/", "")
	if code != 200 || !strings.Contains(body, `<script src="/dashboard/app.js">`) {
		t.Fatalf("/ = %d %.200s", code, body)
	}
	for _, a := range []string{"app.js", "style.css"} {
		if code, body := httpDo(t, "GET", base+"/dashboard/"+a, ""); code != 200 || len(body) < 100 {
			t.Fatalf("%s = %d", a, code)
		}
	}
	if code, _ := httpDo(t, "GET", base+"/dashboard/missing.js", ""); code != 404 {
		t.Fatalf("missing asset = %d", code)
	}
	if code, _ := httpDo(t, "GET", base+"/nothing-here", ""); code != 404 {
		t.Fatalf("unknown path = %d", code)
	}
	code, body = httpDo(t, "GET", base+"/api/rates", "")
	var raw map[string]any
	must(t, json.Unmarshal([]byte(body), &raw))
	if code != 200 || raw["node"] != 1.0 || !slices.Equal(jsonKeys(raw), []string{"node", "points"}) {
		t.Fatalf("/api/rates = %d %s", code, body)
	}
}
