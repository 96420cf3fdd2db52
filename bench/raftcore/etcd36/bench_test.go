package etcd36

import (
	"fmt"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftbench"
)

// BenchmarkPropose is raftcore's benchmark with etcd raft v3.6.0 in place
// of the newest release; raftgroup runs beside it in the same process.
func BenchmarkPropose(b *testing.B) {
	impls := []struct {
		name string
		new  func() (raftbench.Driver, error)
	}{
		{"raftgroup", func() (raftbench.Driver, error) { return raftbench.NewFlotilla() }},
		{"etcd36", func() (raftbench.Driver, error) { return newEtcdCluster(false) }},
		{"etcd36-each", func() (raftbench.Driver, error) { return newEtcdCluster(true) }},
	}
	for _, batch := range raftbench.Batches() {
		for _, im := range impls {
			b.Run(fmt.Sprintf("batch=%d/impl=%s", batch, im.name), func(b *testing.B) {
				raftbench.BenchPropose(b, im.new, batch)
			})
		}
	}
}

// TestDriver checks that etcd raft v3.6 applies every proposal on every
// replica through the shared driver.
func TestDriver(t *testing.T) {
	for _, each := range []bool{false, true} {
		c, err := newEtcdCluster(each)
		if err != nil {
			t.Fatal(err)
		}
		if err := raftbench.SmokeRounds(c, 40, 256); err != nil {
			t.Fatalf("each=%v: %v", each, err)
		}
	}
}
