package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilladb/flotilla/internal/testnet"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// freeAddrs returns n free loopback addresses (internal/testnet: ports
// below the ephemeral range, so no outgoing connection takes one first).
func freeAddrs(t testing.TB, n int) []string { return testnet.FreeAddrs(t, n) }

// testSplits pre-splits tests' stores into four shards over "k%04d".
func testSplits(t testing.TB) [][]byte {
	keys, err := shard.EvenSplitKeys("k%04d", 0, 10000, 4)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// openSingle opens a one-node store and its server on free ports.
func openSingle(t testing.TB, tweak func(o *NodeOptions)) *Node {
	t.Helper()
	o := NodeOptions{
		Store:  shard.Options{Dir: t.TempDir(), SplitKeys: testSplits(t), TickInterval: 10 * time.Millisecond},
		Server: Options{ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MaxCursors: 64},
	}
	if tweak != nil {
		tweak(&o)
	}
	n, err := OpenNode(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

// openCluster opens three nodes over TCP on loopback, each with its own
// server; they forward requests to shard leaders over the transport.
func openCluster(t testing.TB) []*Node {
	t.Helper()
	return openClusterWith(t, nil)
}

// openClusterWith is openCluster with tweak applied to each node's
// options.
func openClusterWith(t testing.TB, tweak func(o *NodeOptions)) []*Node {
	t.Helper()
	var nodes []*Node
	// The Raft ports are picked free and then released, so another test
	// process may take one first: on "address in use" the whole cluster
	// is tried again on new ports (a few times).
	for attempt := 1; ; attempt++ {
		var err error
		if nodes, err = tryOpenCluster(t, tweak); err == nil {
			break
		} else if attempt == 3 || !(errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if err := n.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	for _, n := range nodes {
		waitReady(t, n)
	}
	return nodes
}

// tryOpenCluster opens three nodes of a static cluster on fresh ports,
// closing what it opened if one fails.
func tryOpenCluster(t testing.TB, tweak func(o *NodeOptions)) ([]*Node, error) {
	peers := map[raftpb.NodeID]string{}
	free := freeAddrs(t, 3)
	for id := raftpb.NodeID(1); id <= 3; id++ {
		peers[id] = free[id-1]
	}
	nodes := make([]*Node, 0, 3)
	for id := raftpb.NodeID(1); id <= 3; id++ {
		o := NodeOptions{
			Store: shard.Options{Dir: t.TempDir(), NodeID: id, Peers: peers, SplitKeys: testSplits(t),
				TickInterval: 20 * time.Millisecond},
			Server: Options{ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"},
		}
		if tweak != nil {
			tweak(&o)
		}
		n, err := OpenNode(context.Background(), o)
		if err != nil {
			for _, n := range nodes {
				_ = n.Close()
			}
			return nil, fmt.Errorf("node %d: %w", id, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// waitReady polls until every shard of n has a known leader.
func waitReady(t testing.TB, n *Node) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, why := n.Server.Ready()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d not ready: %s", n.Store.NodeID(), why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newClient(t testing.TB, n *Node, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: n.Server.ClientAddr(), Protocol: 2, Password: password,
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func key(i int) string { return fmt.Sprintf("k%04d", i) }

// openLonelyMember opens node 1 of a 3-node cluster whose other nodes
// never start: it can elect no leader.
func openLonelyMember(t testing.TB) *Node {
	t.Helper()
	free := freeAddrs(t, 3)
	peers := map[raftpb.NodeID]string{1: free[0], 2: free[1], 3: free[2]}
	n, err := OpenNode(context.Background(), NodeOptions{
		Store:  shard.Options{Dir: t.TempDir(), NodeID: 1, Peers: peers, TickInterval: 10 * time.Millisecond},
		Server: Options{ClientAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func shardOptions(t testing.TB) shard.Options { return shard.Options{Dir: t.TempDir()} }
