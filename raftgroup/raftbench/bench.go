package raftbench

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// PayloadBytes is the size of every proposal.
const PayloadBytes = 128

// Batches are the proposals per round that the benchmarks report.
func Batches() []int { return []int{1, 16, 256} }

// Driver is one library's cluster as a benchmark sees it.
type Driver interface {
	Round(data []byte, batch int) error
}

// BenchPropose measures proposals committed and applied at the leader per
// second. One op is one proposal, so B/op and allocs/op are per proposal.
func BenchPropose(b *testing.B, newDriver func() (Driver, error), batch int) {
	c, err := newDriver()
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, PayloadBytes)
	b.ReportAllocs()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		if err := c.Round(data, min(batch, b.N-n)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	ReportPerProposal(b, after.Mallocs-before.Mallocs, cpu)
}

// ReportPerProposal adds proposals/s, the allocations per proposal
// unrounded (allocs/op is an integer, 0 below one per op), and the
// process CPU time per proposal, which includes the garbage collector's
// background work and, unlike ns/op, not time spent waiting for a CPU on
// a shared machine.
func ReportPerProposal(b *testing.B, mallocs uint64, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
	b.ReportMetric(float64(mallocs)/float64(b.N), "allocs/proposal")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SmokeRounds runs rounds of batch proposals through c, settles, and
// checks every replica applied them all, across compactions.
func SmokeRounds[M any, R Replica[M]](c *Cluster[M, R], rounds, batch int) error {
	data := make([]byte, PayloadBytes)
	for range rounds {
		if err := c.Round(data, batch); err != nil {
			return err
		}
	}
	if err := c.SettleAll(); err != nil {
		return err
	}
	return c.Check(rounds * batch)
}
