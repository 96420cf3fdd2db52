package plan

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkPlan measures one call on 10,000 shards of 3 replicas over 5
// nodes (plus the meta shard), in the states the driver meets: a balanced
// cluster (the common case: nothing to do), a 6th node that just joined,
// and a node dead past the timeout.
func BenchmarkPlan(b *testing.B) {
	balanced := func() *model {
		m := newModel(1, testConfig(), 5, 10000, 3, true)
		t := &testing.T{}
		m.run(t, 200, 0)
		return m
	}
	b.Run("balanced", func(b *testing.B) {
		benchPlan(b, balanced().c, testConfig())
	})
	b.Run("new-node", func(b *testing.B) {
		m := balanced()
		m.c.Nodes = append(m.c.Nodes, Node{ID: 6})
		benchPlan(b, m.c, m.cfg)
	})
	b.Run("dead-node", func(b *testing.B) {
		m := balanced()
		m.setState(3, Dead, 10*time.Minute)
		benchPlan(b, m.c, m.cfg)
	})
	b.Run("balanced-load", func(b *testing.B) {
		cfg := testConfig()
		cfg.BalanceLoad = true
		benchPlan(b, balanced().c, cfg)
	})
}

// benchPlan reports, besides ns/op, the process CPU time per call
// (cpu-ns/op): on a shared machine the wall clock also counts the time
// other processes hold the cores.
func benchPlan(b *testing.B, c Cluster, cfg Config) {
	b.ReportAllocs()
	actions := 0
	cpu0 := cpuTime()
	for b.Loop() {
		actions = len(Plan(c, cfg))
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(actions), "actions/op")
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
