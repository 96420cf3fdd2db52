package shard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/internal/testnet"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// Clusters over the real TCP transport (fastrpc) on loopback.

// freeAddrs returns n free loopback addresses (internal/testnet: ports
// below the ephemeral range, so no outgoing connection takes one first).
func freeAddrs(t testing.TB, n int) []string { return testnet.FreeAddrs(t, n) }

// newTCPCluster starts nodes stores over TCP on loopback, bootstrapped
// with shards shards; tweak (optional) adjusts each node's Options at
// every start.
func newTCPCluster(t testing.TB, nodes, shards int, seed uint64, tweak func(id raftpb.NodeID, o *Options)) *testCluster {
	t.Helper()
	dirs := make([]string, nodes)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	c := newTCPClusterAt(t, dirs, freeAddrs(t, nodes), shards, seed, tweak)
	t.Cleanup(c.close)
	return c
}

// newTCPClusterAt starts node i+1 on dirs[i] listening on addrs[i]; the
// caller closes the cluster.
func newTCPClusterAt(t testing.TB, dirs, addrs []string, shards int, seed uint64, tweak func(id raftpb.NodeID, o *Options)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dirs: map[raftpb.NodeID]string{}, stores: map[raftpb.NodeID]*Store{},
		shims: map[raftpb.NodeID]*shimHandler{}, stop: make(chan struct{}), tweak: tweak}
	peers := map[raftpb.NodeID]string{}
	for i, a := range addrs {
		peers[raftpb.NodeID(i+1)] = a
		c.dirs[raftpb.NodeID(i+1)] = dirs[i]
	}
	keys := splitKeys(shards)
	snapDir := t.TempDir()
	c.opts = func(id raftpb.NodeID) Options {
		return Options{Dir: c.dirs[id], NodeID: id, Peers: peers, SplitKeys: keys,
			TickInterval: 10 * time.Millisecond, SyncInterval: 50 * time.Millisecond, Seed: seed + uint64(id),
			TransportOptions: transport.Options{SnapshotDir: snapDir, Seed: seed + uint64(id),
				MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}}
	}
	for i := range addrs {
		c.start(raftpb.NodeID(i + 1))
	}
	return c
}

// waitStale polls Stale reads on node id until key reads want.
func (c *testCluster) waitStale(id raftpb.NodeID, key, want string, deadline time.Time) {
	c.t.Helper()
	for {
		v, _, err := c.node(id).Get(context.Background(), []byte(key), Stale)
		if err == nil && string(v) == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d: %s = %q (%v), want %q", id, key, v, err, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// putAll writes prefix+i to a key of each of the first n shards from
// several goroutines, each following leader hints as put does.
func (c *testCluster) putAll(n int, prefix string) {
	c.t.Helper()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key := shardKey(i, n)
				if err := c.do([]byte(key), func(s *Store) error {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					return s.Put(ctx, []byte(key), []byte(fmt.Sprint(prefix, i)))
				}); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		c.t.Fatal(err)
	}
}

// shardKey is a key inside initial shard i of splitKeys(n).
func shardKey(i, n int) string { return fmt.Sprintf("k%06d", i*1000000/n+1) }

func TestTCPClusterManyShards(t *testing.T) {
	shards := 300
	if testing.Short() {
		shards = 64
	}
	start := time.Now()
	c := newTCPCluster(t, 3, shards, 21, nil)
	c.putAll(shards, "a")
	t.Logf("%v: wrote to %d shards", time.Since(start).Round(time.Millisecond), shards)
	for i := 0; i < shards; i++ {
		if got, ok := c.get(shardKey(i, shards)); !ok || got != fmt.Sprint("a", i) {
			t.Fatalf("shard %d: linearizable read = %q %v", i, got, ok)
		}
	}
	for _, id := range c.live() {
		s := c.node(id)
		if s.tcp == nil {
			t.Fatalf("node %d runs without the TCP transport", id)
		}
		if m := s.Metrics(); m.MessagesSent == 0 || m.MessagesReceived == 0 || m.Replicas != shards {
			t.Fatalf("node %d: sent %d, received %d messages, %d replicas", id, m.MessagesSent, m.MessagesReceived, m.Replicas)
		}
	}

	// Node 2 restarts (Close, then Open on the same directory and port)
	// and catches up with what was written while it was down.
	c.stopNode(2)
	c.putAll(shards, "b")
	t.Logf("%v: wrote again with node 2 down", time.Since(start).Round(time.Millisecond))
	c.start(2)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < shards; i++ {
		c.waitStale(2, shardKey(i, shards), fmt.Sprint("b", i), deadline)
	}
	t.Logf("%v: node 2 caught up", time.Since(start).Round(time.Millisecond))
	// And it serves again: linearizable reads and writes through whichever
	// node leads, node 2 among them.
	for i := 0; i < shards; i += 7 {
		c.put(shardKey(i, shards), fmt.Sprint("c", i))
		if got, ok := c.get(shardKey(i, shards)); !ok || got != fmt.Sprint("c", i) {
			t.Fatalf("shard %d after the restart: %q %v", i, got, ok)
		}
		c.waitStale(2, shardKey(i, shards), fmt.Sprint("c", i), deadline)
	}
}

func TestTCPClusterSnapshotCatchUp(t *testing.T) {
	c := newTCPCluster(t, 3, 4, 22, func(_ raftpb.NodeID, o *Options) { o.MaxLogEntries = 20 })
	c.put("k000001", "before")
	c.waitStale(3, "k000001", "before", time.Now().Add(10*time.Second))
	c.stopNode(3)
	for i := 0; i < 300; i++ {
		c.put(fmt.Sprintf("k%06d", i*3000), fmt.Sprint(i))
	}
	// The survivors truncate their logs past what node 3 has.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var trunc uint64
		for _, id := range c.live() {
			trunc += c.node(id).Metrics().Truncations
		}
		if trunc > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no log truncation happened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.start(3)
	deadline = time.Now().Add(30 * time.Second)
	for i := 0; i < 300; i++ {
		c.waitStale(3, fmt.Sprintf("k%06d", i*3000), fmt.Sprint(i), deadline)
	}
	c.waitStale(3, "k000001", "before", deadline)
	if got := c.node(3).Metrics().SnapshotsInstalled; got == 0 {
		t.Fatal("node 3 caught up without a snapshot although the logs were truncated")
	}
	// The sender counts a snapshot once the receiver's install is
	// acknowledged, which may come just after the data shows.
	for {
		var sent uint64
		for _, id := range c.live() {
			sent += c.node(id).Metrics().SnapshotsSent
		}
		if sent > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no node counts a snapshot sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTCPClusterTLS(t *testing.T) {
	tlsOpts := writeTestPKI(t, 3)
	c := newTCPCluster(t, 3, 8, 23, func(id raftpb.NodeID, o *Options) {
		o.TransportOptions.TLS = tlsOpts[id]
	})
	for i := 0; i < 8; i++ {
		c.put(shardKey(i, 8), fmt.Sprint("tls", i))
	}
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < 8; i++ {
		if got, ok := c.get(shardKey(i, 8)); !ok || got != fmt.Sprint("tls", i) {
			t.Fatalf("shard %d: %q %v", i, got, ok)
		}
		for _, id := range c.live() {
			c.waitStale(id, shardKey(i, 8), fmt.Sprint("tls", i), deadline)
		}
	}
}

// writeTestPKI writes a CA and one certificate per node (valid for
// 127.0.0.1, for both the server and client side of mutual TLS) and
// returns each node's TLS options.
func writeTestPKI(t *testing.T, nodes int) map[raftpb.NodeID]*transport.TLSOptions {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flotilla test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	out := map[raftpb.NodeID]*transport.TLSOptions{}
	for i := 1; i <= nodes; i++ {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("node-%d", i)},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		o := &transport.TLSOptions{CAFile: caFile,
			CertFile: filepath.Join(dir, fmt.Sprintf("node%d.pem", i)), KeyFile: filepath.Join(dir, fmt.Sprintf("node%d-key.pem", i))}
		writePEM(t, o.CertFile, "CERTIFICATE", der)
		writePEM(t, o.KeyFile, "EC PRIVATE KEY", keyDER)
		out[raftpb.NodeID(i)] = o
	}
	return out
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
