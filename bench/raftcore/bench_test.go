package raftcore

import (
	"fmt"
	"testing"
)

// payloadBytes is the size of every proposal.
const payloadBytes = 128

// driver is one library's cluster, as the benchmark sees it.
type driver interface {
	round(data []byte, batch int) error
}

type impl struct {
	name       string
	newCluster func() (driver, error)
}

func impls() []impl {
	return []impl{
		{"raftgroup", func() (driver, error) { return newFlotillaCluster() }},
		{"etcd", func() (driver, error) { return newEtcdCluster() }},
	}
}

// BenchmarkPropose measures committed proposals per second through a
// 3-replica group in memory; one op is one proposal, so allocs/op and B/op
// are per proposal. Sub-benchmarks alternate the libraries at each batch
// size so that both see the machine in the same state.
func BenchmarkPropose(b *testing.B) {
	for _, batch := range []int{1, 16, 256} { // proposals per round
		for _, im := range impls() {
			b.Run(fmt.Sprintf("batch=%d/impl=%s", batch, im.name), func(b *testing.B) {
				benchPropose(b, im, batch)
			})
		}
	}
}

func benchPropose(b *testing.B, im impl, batch int) {
	c, err := im.newCluster()
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, payloadBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		if err := c.round(data, min(batch, b.N-n)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
}

// TestDriver runs both libraries through the driver for enough rounds to
// compact twice and checks that every replica applied every proposal.
func TestDriver(t *testing.T) {
	const rounds, batch = 40, 256
	data := make([]byte, payloadBytes)
	t.Run("raftgroup", func(t *testing.T) {
		c, err := newFlotillaCluster()
		if err != nil {
			t.Fatal(err)
		}
		runRounds(t, c, data, rounds, batch)
	})
	t.Run("etcd", func(t *testing.T) {
		c, err := newEtcdCluster()
		if err != nil {
			t.Fatal(err)
		}
		runRounds(t, c, data, rounds, batch)
	})
}

func runRounds[M any, R replica[M]](t *testing.T, c *cluster[M, R], data []byte, rounds, batch int) {
	t.Helper()
	for range rounds {
		if err := c.round(data, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Followers learn the last commit index from one more exchange.
	if err := c.settle(func() bool {
		for _, n := range c.nodes {
			if n.appliedProposals() < c.proposed {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.nodes {
		if got := n.appliedProposals(); got != rounds*batch {
			t.Errorf("node %d applied %d proposals, want %d", i+1, got, rounds*batch)
		}
	}
	if c.compacted == 0 {
		t.Errorf("storages never compacted")
	}
}
