package gossip

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// syncBuffer collects a node's log lines; the test prints them if it fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder keeps every event a node delivered, in order.
type recorder struct {
	mu     sync.Mutex
	events []string // "join 3", "dead 2", ...
	last   map[string]Member
}

func (r *recorder) add(kind string, m Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %d", kind, m.NodeID))
	if r.last == nil {
		r.last = make(map[string]Member)
	}
	r.last[fmt.Sprintf("%s %d", kind, m.NodeID)] = m
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// lastEvent returns the member of the latest event "kind id".
func (r *recorder) lastEvent(kind string, id raftpb.NodeID) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.last[fmt.Sprintf("%s %d", kind, id)]
	return m, ok
}

func (r *recorder) count(kind string, id raftpb.NodeID) int {
	n := 0
	for _, e := range r.all() {
		if e == fmt.Sprintf("%s %d", kind, id) {
			n++
		}
	}
	return n
}

func (r *recorder) callbacks() Events {
	return Events{
		Join:   func(m Member) { r.add("join", m) },
		Update: func(m Member) { r.add("update", m) },
		Dead:   func(m Member) { r.add("dead", m) },
		Leave:  func(m Member) { r.add("leave", m) },
	}
}

// node is one Gossip under test with its events and logs.
type node struct {
	*Gossip
	rec  *recorder
	logs *syncBuffer
}

const testCluster = 7

func testMeta(id raftpb.NodeID) Meta {
	return Meta{
		NodeID:     id,
		ClusterID:  testCluster,
		RaftAddr:   fmt.Sprintf("127.0.0.1:%d", 20000+id),
		ClientAddr: fmt.Sprintf("127.0.0.1:%d", 21000+id),
		HTTPAddr:   fmt.Sprintf("127.0.0.1:%d", 22000+id),
		Capacity:   uint64(id) << 30,
	}
}

// startNode starts a Loopback Gossip on a free port; it is shut down when
// the test ends, and its log printed if the test failed.
func startNode(t *testing.T, meta Meta, key []byte) *node {
	t.Helper()
	n := &node{rec: &recorder{}, logs: &syncBuffer{}}
	g, err := New(Config{
		BindAddr:  "127.0.0.1:0",
		Meta:      meta,
		Profile:   Loopback,
		SecretKey: key,
		Logger:    slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Events:    n.rec.callbacks(),
	})
	if err != nil {
		t.Fatalf("New(node %d): %v", meta.NodeID, err)
	}
	n.Gossip = g
	t.Cleanup(func() {
		if err := g.Shutdown(); err != nil {
			t.Errorf("Shutdown(node %d): %v", meta.NodeID, err)
		}
		if t.Failed() {
			t.Logf("log of node %d (%s):\n%s", meta.NodeID, g.Addr(), n.logs.String())
		}
	})
	return n
}

// startCluster starts nodes 1..n and joins each to node 1 only.
func startCluster(t *testing.T, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, testMeta(raftpb.NodeID(i+1)), nil)
	}
	for _, nd := range nodes[1:] {
		if _, err := nd.Join([]string{nodes[0].Addr()}); err != nil {
			t.Fatalf("node %d Join: %v", nd.cfg.Meta.NodeID, err)
		}
	}
	waitFor(t, 10*time.Second, "every node sees every node alive", func() string {
		return allSeeAll(nodes)
	})
	return nodes
}

// allSeeAll returns "" when every node lists every node Alive with the
// node's own Meta and gossip address, else what is missing.
func allSeeAll(nodes []*node) string {
	var missing []string
	for _, a := range nodes {
		for _, b := range nodes {
			m, ok := a.Member(b.cfg.Meta.NodeID)
			if !ok || m.State != Alive || m.Meta != b.cfg.Meta || m.Addr != b.Addr() {
				missing = append(missing, fmt.Sprintf("%d->%d", a.cfg.Meta.NodeID, b.cfg.Meta.NodeID))
			}
		}
	}
	return strings.Join(missing, " ")
}

// waitFor polls cond until it returns "" or the deadline passes; cond
// returns what is still wrong. It returns the time waited.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		msg := cond()
		if msg == "" {
			return time.Since(start)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %v, still not %s: %s", timeout, what, msg)
		}
	}
}

// stateIs is a waitFor condition: every observer sees id in state want.
func stateIs(observers []*node, id raftpb.NodeID, want State) func() string {
	return func() string {
		var wrong []string
		for _, o := range observers {
			m, ok := o.Member(id)
			if !ok || m.State != want {
				wrong = append(wrong, fmt.Sprintf("node %d sees %v (known %v)", o.cfg.Meta.NodeID, m.State, ok))
			}
		}
		return strings.Join(wrong, "; ")
	}
}
