package gossip

import (
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// cutTransport is memberlist's network transport with a switchboard in
// front: traffic to and from the IPs in cut is dropped (datagrams
// silently, connections refused or closed), as a partition would.
type cutTransport struct {
	*memberlist.NetTransport
	mu      sync.Mutex
	cut     map[string]bool
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{}
}

func newCutTransport(t *testing.T, ip string) *cutTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{ip}, BindPort: 0,
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatalf("transport on %s: %v", ip, err)
	}
	ct := &cutTransport{NetTransport: nt, cut: map[string]bool{}, packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn), stop: make(chan struct{})}
	go ct.forward()
	return ct
}

func (ct *cutTransport) setCut(ips ...string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.cut = map[string]bool{}
	for _, ip := range ips {
		ct.cut[ip] = true
	}
}

func (ct *cutTransport) isCut(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.cut[host]
}

// forward passes on what arrives from IPs that are not cut.
func (ct *cutTransport) forward() {
	for {
		select {
		case p := <-ct.NetTransport.PacketCh():
			if !ct.isCut(p.From.String()) {
				select {
				case ct.packets <- p:
				case <-ct.stop:
					return
				}
			}
		case c := <-ct.NetTransport.StreamCh():
			if ct.isCut(c.RemoteAddr().String()) {
				c.Close()
				continue
			}
			select {
			case ct.streams <- c:
			case <-ct.stop:
				return
			}
		case <-ct.stop:
			return
		}
	}
}

func (ct *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if ct.isCut(addr) {
		return time.Now(), nil
	}
	return ct.NetTransport.WriteTo(b, addr)
}

func (ct *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if ct.isCut(addr) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: io.ErrUnexpectedEOF}
	}
	return ct.NetTransport.DialTimeout(addr, timeout)
}

// WriteToAddress and DialAddressTimeout are what memberlist calls on a
// node-aware transport like NetTransport.
func (ct *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return ct.WriteTo(b, a.Addr)
}

func (ct *cutTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return ct.DialTimeout(a.Addr, timeout)
}

func (ct *cutTransport) PacketCh() <-chan *memberlist.Packet { return ct.packets }
func (ct *cutTransport) StreamCh() <-chan net.Conn           { return ct.streams }

func (ct *cutTransport) Shutdown() error {
	close(ct.stop)
	return ct.NetTransport.Shutdown()
}

// TestPartitionOutlastingGossipToTheDeadHeals: a node cut from the
// others for longer than memberlist's GossipToTheDeadTime is Dead on
// both sides of the cut, and memberlist alone never makes the sides
// speak again; once the network is whole, every node must see every node
// Alive again (Gossip.reconnect).
func TestPartitionOutlastingGossipToTheDeadHeals(t *testing.T) {
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	var nodes []*node
	var links []*cutTransport
	for i, ip := range ips {
		ct := newCutTransport(t, ip)
		id := raftpb.NodeID(i + 1)
		n := &node{rec: &recorder{}, logs: &syncBuffer{}}
		g, err := New(Config{BindAddr: ip + ":0", Meta: testMeta(id), Profile: Loopback, transport: ct,
			Logger: slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Events: n.rec.callbacks()})
		if err != nil {
			t.Fatalf("New(node %d): %v", id, err)
		}
		n.Gossip = g
		t.Cleanup(func() {
			if err := g.Shutdown(); err != nil {
				t.Errorf("Shutdown(node %d): %v", id, err)
			}
			if t.Failed() {
				t.Logf("log of node %d (%s):\n%s", id, g.Addr(), n.logs.String())
			}
		})
		nodes, links = append(nodes, n), append(links, ct)
	}
	for _, n := range nodes[1:] {
		if _, err := n.Join([]string{nodes[0].Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "every node sees every node alive", func() string { return allSeeAll(nodes) })

	// Cut node 3 from nodes 1 and 2, both ways.
	links[0].setCut(ips[2])
	links[1].setCut(ips[2])
	links[2].setCut(ips[0], ips[1])
	waitFor(t, 10*time.Second, "node 3 Dead on nodes 1 and 2", stateIs(nodes[:2], 3, Dead))
	waitFor(t, 10*time.Second, "nodes 1 and 2 Dead on node 3", func() string {
		return stateIs(nodes[2:], 1, Dead)() + stateIs(nodes[2:], 2, Dead)()
	})
	// The cut outlasts GossipToTheDeadTime (2 s with Loopback) with room
	// to spare: after it, memberlist sends nothing across by itself.
	time.Sleep(3 * baseConfig(Loopback).GossipToTheDeadTime / 2)
	for _, ct := range links {
		ct.setCut()
	}
	took := waitFor(t, 20*time.Second, "every node sees every node alive after the cut healed", func() string { return allSeeAll(nodes) })
	t.Logf("membership whole again %v after the cut healed", took)
}
