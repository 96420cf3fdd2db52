package raftcore

import (
	"fmt"
	"github.com/flotilladb/flotilla/raftgroup/raftbench"
	"testing"
)

// BenchmarkPropose measures committed proposals per second through a
// 3-replica group in memory, for raftgroup and etcd raft. At each batch
// size the two libraries run one after the other, so both see the machine
// in the same state.
func BenchmarkPropose(b *testing.B) {
	impls := []struct {
		name string
		new  func() (raftbench.Driver, error)
	}{
		{"raftgroup", func() (raftbench.Driver, error) { return raftbench.NewFlotilla() }},
		{"etcd", func() (raftbench.Driver, error) { return newEtcdCluster(false) }},
		{"etcd-each", func() (raftbench.Driver, error) { return newEtcdCluster(true) }},
	}
	for _, batch := range raftbench.Batches() {
		for _, im := range impls {
			b.Run(fmt.Sprintf("batch=%d/impl=%s", batch, im.name), func(b *testing.B) {
				raftbench.BenchPropose(b, im.new, batch)
			})
		}
	}
}

// TestDriver runs both libraries through the driver for enough rounds to
// compact twice and checks that every replica applied every proposal.
func TestDriver(t *testing.T) {
	const rounds, batch = 40, 256
	t.Run("raftgroup", func(t *testing.T) {
		c, err := raftbench.NewFlotilla()
		if err != nil {
			t.Fatal(err)
		}
		if err := raftbench.SmokeRounds(c, rounds, batch); err != nil {
			t.Fatal(err)
		}
	})
	for _, each := range []bool{false, true} {
		t.Run(fmt.Sprintf("etcd/each=%v", each), func(t *testing.T) {
			c, err := newEtcdCluster(each)
			if err != nil {
				t.Fatal(err)
			}
			if err := raftbench.SmokeRounds(c, rounds, batch); err != nil {
				t.Fatal(err)
			}
		})
	}
}
