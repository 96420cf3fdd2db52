package raftcore

import "testing"

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
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		if err := c.Round(data, min(batch, b.N-n)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
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
