package raftgroup_test

import (
	"fmt"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftbench"
)

// BenchmarkPropose measures committed proposals per second through a
// 3-replica group in memory, with the driver bench/raftcore also uses to
// compare against etcd raft. One op is one 128-byte proposal; batch is the
// proposals made per round.
func BenchmarkPropose(b *testing.B) {
	for _, batch := range raftbench.Batches() {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			raftbench.BenchPropose(b, func() (raftbench.Driver, error) { return raftbench.NewFlotilla() }, batch)
		})
	}
}

// TestBenchDriver runs the driver long enough to compact the storages
// twice and checks that every replica applied every proposal.
func TestBenchDriver(t *testing.T) {
	c, err := raftbench.NewFlotilla()
	if err != nil {
		t.Fatal(err)
	}
	if err := raftbench.SmokeRounds(c, 40, 256); err != nil {
		t.Fatal(err)
	}
}
