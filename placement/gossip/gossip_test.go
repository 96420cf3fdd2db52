package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

func TestJoinThroughOneSeed(t *testing.T) {
	nodes := startCluster(t, 5)
	for _, n := range nodes {
		ms := n.Members()
		if len(ms) != len(nodes) {
			t.Fatalf("node %d lists %d members, want %d", n.cfg.Meta.NodeID, len(ms), len(nodes))
		}
		for i, m := range ms {
			if m.NodeID != raftpb.NodeID(i+1) {
				t.Fatalf("node %d: Members not sorted by NodeID: %v", n.cfg.Meta.NodeID, ms)
			}
			if m.Since.IsZero() {
				t.Errorf("node %d: member %d has no Since", n.cfg.Meta.NodeID, m.NodeID)
			}
		}
		// Every node delivered a Join for every node, its own first.
		waitFor(t, 5*time.Second, "a Join event for every node", func() string {
			for _, o := range nodes {
				if n.rec.count("join", o.cfg.Meta.NodeID) < 1 {
					return fmt.Sprintf("node %d has no join of %d: %v", n.cfg.Meta.NodeID, o.cfg.Meta.NodeID, n.rec.all())
				}
			}
			return ""
		})
		if first := n.rec.all()[0]; first != fmt.Sprintf("join %d", n.cfg.Meta.NodeID) {
			t.Errorf("node %d: first event %q, want its own join", n.cfg.Meta.NodeID, first)
		}
		m, _ := n.rec.lastEvent("join", 3)
		if m.Meta != nodes[2].cfg.Meta || m.Addr != nodes[2].Addr() || m.State != Alive {
			t.Errorf("node %d: join event of node 3 = %+v", n.cfg.Meta.NodeID, m)
		}
	}
}

func TestUpdateMetaPropagates(t *testing.T) {
	nodes := startCluster(t, 3)
	want := nodes[1].cfg.Meta
	want.Draining = true
	want.Capacity = 123 << 20
	want.ClientAddr = ""
	if err := nodes[1].UpdateMeta(want); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	waitFor(t, 5*time.Second, "the new meta everywhere, with an Update event", func() string {
		for _, n := range nodes {
			m, ok := n.Member(2)
			if !ok || m.Meta != want || m.State != Alive {
				return fmt.Sprintf("node %d sees %+v", n.cfg.Meta.NodeID, m)
			}
			if ev, ok := n.rec.lastEvent("update", 2); !ok || ev.Meta != want {
				return fmt.Sprintf("node %d: last update event %+v", n.cfg.Meta.NodeID, ev)
			}
		}
		return ""
	})
	// The other nodes' metadata did not change.
	if m, _ := nodes[0].Member(3); m.Meta != nodes[2].cfg.Meta {
		t.Errorf("node 3's meta changed: %+v", m.Meta)
	}
}

func TestUpdateMetaRefusesIdentityChange(t *testing.T) {
	n := startNode(t, testMeta(1), nil)
	for _, m := range []Meta{
		func() Meta { m := testMeta(1); m.NodeID = 2; return m }(),
		func() Meta { m := testMeta(1); m.ClusterID++; return m }(),
	} {
		if err := n.UpdateMeta(m); !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("UpdateMeta(%+v) = %v, want ErrInvalidMeta", m, err)
		}
	}
	big := testMeta(1)
	big.HTTPAddr = "127.0.0.1:" + strings.Repeat("1", 600)
	if err := n.UpdateMeta(big); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("UpdateMeta(oversized) = %v", err)
	}
	if m, _ := n.Member(1); m.Meta != testMeta(1) {
		t.Errorf("a refused update changed the meta: %+v", m.Meta)
	}
}

func TestShutdownSeenDead(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 6*time.Second, "node 3 Dead on nodes 1 and 2", stateIs(nodes[:2], 3, Dead))
	t.Logf("failure of node 3 seen by both peers after %v", took)
	for _, n := range nodes[:2] {
		if n.rec.count("leave", 3) != 0 {
			t.Errorf("node %d reported a crash as a graceful leave: %v", n.cfg.Meta.NodeID, n.rec.all())
		}
		waitFor(t, time.Second, "a Dead event", func() string {
			if n.rec.count("dead", 3) < 1 {
				return fmt.Sprint(n.rec.all())
			}
			return ""
		})
		if _, err := n.Resolve(3); !errors.Is(err, ErrNodeDown) || !errors.Is(err, transport.ErrUnknownPeer) {
			t.Errorf("Resolve(dead node) = %v, want ErrNodeDown and transport.ErrUnknownPeer", err)
		}
		if m, _ := n.Member(3); m.Meta != nodes[2].cfg.Meta {
			t.Errorf("dead member's meta %+v", m.Meta)
		}
	}
}

func TestLeaveSeenLeft(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Leave(2 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	took := waitFor(t, 3*time.Second, "node 3 Left on nodes 1 and 2", stateIs(nodes[:2], 3, Left))
	t.Logf("leave of node 3 seen by both peers after %v", took)
	for _, n := range nodes[:2] {
		waitFor(t, time.Second, "a Leave event", func() string {
			if n.rec.count("leave", 3) != 1 {
				return fmt.Sprint(n.rec.all())
			}
			return ""
		})
		if n.rec.count("dead", 3) != 0 || n.rec.count("update", 3) != 0 {
			t.Errorf("node %d: a graceful leave also reported as %v", n.cfg.Meta.NodeID, n.rec.all())
		}
		if m, _ := n.Member(3); m.Meta != nodes[2].cfg.Meta {
			t.Errorf("left member's meta %+v, want %+v", m.Meta, nodes[2].cfg.Meta)
		}
	}
	// Stay Left: the departed node is not later reported Dead.
	if err := nodes[0].UpdateMeta(nodes[0].cfg.Meta); err != nil {
		t.Fatal(err)
	}
	if s := stateIs(nodes[:2], 3, Left)(); s != "" {
		t.Error(s)
	}
	if err := nodes[2].Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Leave = %v, want ErrClosed", err)
	}
}

func TestRestartWithSameNodeID(t *testing.T) {
	nodes := startCluster(t, 3)
	old := nodes[2]
	if err := old.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 6*time.Second, "node 3 Dead", stateIs(nodes[:2], 3, Dead))

	meta := testMeta(3)
	meta.RaftAddr = "127.0.0.1:30003"
	again := startNode(t, meta, nil)
	if again.Addr() == old.Addr() {
		t.Fatalf("restart got the same port %s", again.Addr())
	}
	start := time.Now()
	if _, err := again.Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatalf("Join after restart: %v", err)
	}
	t.Logf("Join of the restarted node took %v", time.Since(start))
	waitFor(t, 5*time.Second, "node 3 Alive at its new address", func() string {
		for _, n := range nodes[:2] {
			m, ok := n.Member(3)
			if !ok || m.State != Alive || m.Addr != again.Addr() || m.Meta != meta {
				return fmt.Sprintf("node %d sees %+v", n.cfg.Meta.NodeID, m)
			}
			if addr, err := n.Resolve(3); err != nil || addr != meta.RaftAddr {
				return fmt.Sprintf("node %d resolves node 3 to %q, %v", n.cfg.Meta.NodeID, addr, err)
			}
			if ev, ok := n.rec.lastEvent("join", 3); !ok || ev.Addr != again.Addr() {
				return fmt.Sprintf("node %d: no join event for the new incarnation: %v", n.cfg.Meta.NodeID, n.rec.all())
			}
		}
		return ""
	})
	waitFor(t, 5*time.Second, "the restarted node sees its peers", func() string {
		return allSeeAll([]*node{nodes[0], nodes[1], again})
	})
}

func TestDuplicateNodeIDRefused(t *testing.T) {
	nodes := startCluster(t, 2)
	dup := startNode(t, testMeta(2), nil)
	_, err := dup.Join([]string{nodes[0].Addr()})
	if !errors.Is(err, ErrNodeIDInUse) {
		t.Fatalf("Join of a second node 2 = %v, want ErrNodeIDInUse", err)
	}
	// A barrier: once node 2 sees node 1's next meta, node 1 has had time
	// to gossip whatever it learned about the newcomer.
	m := nodes[0].cfg.Meta
	m.Capacity++
	if err := nodes[0].UpdateMeta(m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 2 sees node 1's update", func() string {
		if got, _ := nodes[1].Member(1); got.Meta != m {
			return fmt.Sprintf("%+v", got.Meta)
		}
		return ""
	})
	for _, n := range nodes {
		if got, _ := n.Member(2); got.Addr != nodes[1].Addr() || got.State != Alive {
			t.Errorf("node %d sees node 2 as %+v, want the original at %s", n.cfg.Meta.NodeID, got, nodes[1].Addr())
		}
	}
	if !strings.Contains(dup.logs.String(), "refusing to join") {
		t.Errorf("the refused newcomer logged no error:\n%s", dup.logs.String())
	}
}

func TestOtherClusterNotReported(t *testing.T) {
	nodes := startCluster(t, 2)
	foreign := testMeta(9)
	foreign.ClusterID = testCluster + 1
	f := startNode(t, foreign, nil)
	if n, err := f.Join([]string{nodes[0].Addr(), nodes[1].Addr()}); err == nil {
		t.Fatalf("a node of another cluster joined (%d seeds answered)", n)
	}
	// The cluster's nodes also try to reach the foreign node.
	if _, err := nodes[1].Join([]string{f.Addr()}); err == nil {
		t.Fatal("joined a node of another cluster")
	}
	barrier(t, nodes)
	for _, n := range nodes {
		if _, ok := n.Member(9); ok || len(n.Members()) != 2 || n.rec.count("join", 9) != 0 {
			t.Errorf("node %d reports the foreign node: %v %v", n.cfg.Meta.NodeID, n.Members(), n.rec.all())
		}
	}
	if ms := f.Members(); len(ms) != 1 {
		t.Errorf("the foreign node lists %v", ms)
	}
}

func TestSecretKey(t *testing.T) {
	key := []byte("0123456789abcdef")
	a := startNode(t, testMeta(1), key)
	b := startNode(t, testMeta(2), key)
	c := startNode(t, testMeta(3), []byte("fedcba9876543210"))
	plain := startNode(t, testMeta(4), nil)
	if _, err := b.Join([]string{a.Addr()}); err != nil {
		t.Fatalf("Join with the same key: %v", err)
	}
	waitFor(t, 5*time.Second, "a and b see each other", func() string { return allSeeAll([]*node{a, b}) })
	if _, err := c.Join([]string{a.Addr()}); err == nil {
		t.Error("a node with another key joined")
	}
	if _, err := plain.Join([]string{a.Addr()}); err == nil {
		t.Error("a node without a key joined an encrypted cluster")
	}
	barrier(t, []*node{a, b})
	for _, id := range []raftpb.NodeID{3, 4} {
		if _, ok := a.Member(id); ok {
			t.Errorf("node %d was admitted without the key", id)
		}
	}
}

// barrier changes node 1's Capacity and waits until every node sees it:
// a gossip round trip, after which what node 1 knew has spread.
func barrier(t *testing.T, nodes []*node) {
	t.Helper()
	m := nodes[0].meta.m
	m.Capacity++
	if err := nodes[0].UpdateMeta(m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "everyone sees node 1's barrier update", func() string {
		for _, n := range nodes {
			if got, _ := n.Member(nodes[0].cfg.Meta.NodeID); got.Capacity != m.Capacity {
				return fmt.Sprintf("node %d has capacity %d", n.cfg.Meta.NodeID, got.Capacity)
			}
		}
		return ""
	})
}

func TestResolve(t *testing.T) {
	nodes := startCluster(t, 2)
	for _, n := range nodes {
		for _, o := range nodes {
			addr, err := n.Resolve(o.cfg.Meta.NodeID)
			if err != nil || addr != o.cfg.Meta.RaftAddr {
				t.Errorf("node %d Resolve(%d) = %q, %v; want %q", n.cfg.Meta.NodeID, o.cfg.Meta.NodeID, addr, err, o.cfg.Meta.RaftAddr)
			}
		}
	}
	_, err := nodes[0].Resolve(42)
	if !errors.Is(err, ErrUnknownNode) || !errors.Is(err, transport.ErrUnknownPeer) {
		t.Errorf("Resolve(unknown) = %v, want ErrUnknownNode and transport.ErrUnknownPeer", err)
	}
	m := nodes[1].cfg.Meta
	m.RaftAddr = ""
	if err := nodes[1].UpdateMeta(m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 1 to see node 2 without a Raft address", func() string {
		if _, err := nodes[0].Resolve(2); !errors.Is(err, ErrNodeDown) {
			return fmt.Sprint(err)
		}
		return ""
	})
}

func TestLifecycle(t *testing.T) {
	n := startNode(t, testMeta(1), nil)
	if got, err := n.Join(nil); got != 0 || err != nil {
		t.Errorf("Join(nil) = %d, %v", got, err)
	}
	if got, err := n.Join([]string{n.Addr(), "", n.Addr()}); got != 0 || err != nil {
		t.Errorf("Join(only self) = %d, %v", got, err)
	}
	if _, err := n.Join([]string{"127.0.0.1:1"}); err == nil {
		t.Error("Join of an unreachable seed succeeded")
	}
	if err := n.Leave(0); err == nil {
		t.Error("Leave(0) succeeded")
	}
	// Alone, Leave returns at once.
	if err := n.Leave(time.Second); err != nil {
		t.Errorf("Leave alone: %v", err)
	}
	if err := n.Shutdown(); err != nil {
		t.Errorf("Shutdown after Leave: %v", err)
	}
	if err := n.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Shutdown = %v, want ErrClosed", err)
	}
	if err := n.UpdateMeta(testMeta(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateMeta after Shutdown = %v, want ErrClosed", err)
	}
	if _, err := n.Join([]string{"127.0.0.1:1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Shutdown = %v, want ErrClosed", err)
	}
	if got := n.rec.all(); !slices.Equal(got, []string{"join 1"}) {
		t.Errorf("events %v, want only its own join", got)
	}
	if m, _ := n.Member(1); m.State != Left {
		t.Errorf("after Leave, the node sees itself %v, want left", m.State)
	}
}

func TestRejoinAfterLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "node 3 Left", stateIs(nodes[:2], 3, Left))
	again := startNode(t, testMeta(3), nil)
	if _, err := again.Join([]string{nodes[1].Addr()}); err != nil {
		t.Fatalf("Join after Leave: %v", err)
	}
	waitFor(t, 5*time.Second, "node 3 back at its new address", func() string {
		return allSeeAll([]*node{nodes[0], nodes[1], again})
	})
	// A left node's name is free at once: Join did not wait to announce again.
	if strings.Contains(again.logs.String(), "announcing again") {
		t.Errorf("Join waited for the reclaim time after a graceful leave:\n%s", again.logs.String())
	}
	// Each peer reported the leave, then the new incarnation's Join, and
	// ends on a Join. (memberlist may first take stale gossip about the
	// previous incarnation for news about the new one, which starts again
	// at incarnation 1, and report a Dead that the new node refutes at
	// once: see the package doc.)
	waitFor(t, 5*time.Second, "a final Join of node 3 on every peer", func() string {
		for _, n := range nodes[:2] {
			evs := n.rec.all()
			var of3 []string
			for _, e := range evs {
				if strings.HasSuffix(e, " 3") {
					of3 = append(of3, e)
				}
			}
			if len(of3) < 3 || !slices.Equal(of3[:3], []string{"join 3", "leave 3", "join 3"}) || of3[len(of3)-1] != "join 3" {
				return fmt.Sprintf("node %d: %v", n.cfg.Meta.NodeID, of3)
			}
		}
		return ""
	})
}

func TestRestartOnSamePort(t *testing.T) {
	nodes := startCluster(t, 3)
	addr := nodes[2].Addr()
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 6*time.Second, "node 3 Dead", stateIs(nodes[:2], 3, Dead))
	n := &node{rec: &recorder{}, logs: &syncBuffer{}}
	g, err := New(Config{BindAddr: addr, Meta: testMeta(3), Profile: Loopback, Events: n.rec.callbacks(),
		Logger: slog.New(slog.NewTextHandler(n.logs, nil))})
	if err != nil {
		t.Skipf("port %s taken since the shutdown: %v", addr, err)
	}
	n.Gossip = g
	t.Cleanup(func() { _ = g.Shutdown() })
	if _, err := g.Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatalf("Join: %v", err)
	}
	// Same name, same address, incarnation restarted from 1: memberlist
	// accepts it once the node refutes the failure it hears about.
	waitFor(t, 5*time.Second, "node 3 Alive again", func() string {
		return allSeeAll([]*node{nodes[0], nodes[1], n})
	})
}

// A callback sees the table at least as new as its own event.
func TestCallbackSeesItsChange(t *testing.T) {
	var self atomic.Pointer[Gossip]
	var mu sync.Mutex
	var problems []string
	check := func(kind string, want State) func(Member) {
		return func(m Member) {
			g := self.Load()
			if g == nil {
				return // the local Join can run before New returns
			}
			got, ok := g.Member(m.NodeID)
			if !ok || got.State != want || got.Meta != m.Meta {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s %d: table has %+v", kind, m.NodeID, got))
				mu.Unlock()
			}
		}
	}
	g, err := New(Config{
		BindAddr: "127.0.0.1:0", Meta: testMeta(1), Profile: Loopback,
		Events: Events{Join: check("join", Alive), Update: check("update", Alive), Leave: check("leave", Left)},
	})
	if err != nil {
		t.Fatal(err)
	}
	self.Store(g)
	t.Cleanup(func() { _ = g.Shutdown() })
	peer := startNode(t, testMeta(2), nil)
	if _, err := peer.Join([]string{g.Addr()}); err != nil {
		t.Fatal(err)
	}
	m := testMeta(2)
	m.Draining = true
	if err := peer.UpdateMeta(m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 1 sees node 2 draining", func() string {
		if got, _ := g.Member(2); !got.Draining {
			return "not yet"
		}
		return ""
	})
	if err := peer.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "node 2 Left", func() string {
		if got, _ := g.Member(2); got.State != Left {
			return got.State.String()
		}
		return ""
	})
	// Shutdown waits for the last callback, so problems is final.
	if err := g.Shutdown(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

func TestLANProfileJoins(t *testing.T) {
	var nodes []*node
	for id := raftpb.NodeID(1); id <= 2; id++ {
		n := &node{rec: &recorder{}, logs: &syncBuffer{}}
		g, err := New(Config{BindAddr: "127.0.0.1:0", Meta: testMeta(id), Events: n.rec.callbacks(),
			Logger: slog.New(slog.NewTextHandler(n.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		n.Gossip = g
		t.Cleanup(func() { _ = g.Shutdown() })
		nodes = append(nodes, n)
	}
	if _, err := nodes[1].Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both LAN nodes see each other", func() string { return allSeeAll(nodes) })
	if err := nodes[1].Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 2 Left", stateIs(nodes[:1], 2, Left))
}
