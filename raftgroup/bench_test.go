package raftgroup_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// benchCluster is three replicas wired in memory with no I/O, driven the
// way bench/raftcore drives raftgroup and etcd raft side by side (that
// module holds the comparison; this benchmark needs no dependency).
type benchCluster struct {
	groups    []*raftgroup.Group
	stores    []*raftgroup.MemoryStorage
	applied   []raftpb.Index
	proposals []int // applied entries carrying data, per replica
	queue     []raftpb.Message
	spare     []raftpb.Message
	proposed  int
	compacted raftpb.Index
}

// benchCompactEvery is how many applied entries accumulate before the
// storages are compacted, so memory stays bounded whatever b.N is.
const benchCompactEvery = 4096

func newBenchCluster(tb testing.TB) *benchCluster {
	tb.Helper()
	ids := []raftpb.NodeID{1, 2, 3}
	c := &benchCluster{applied: make([]raftpb.Index, len(ids)), proposals: make([]int, len(ids))}
	for _, id := range ids {
		st := raftgroup.NewMemoryStorage(raftpb.ConfState{Voters: ids})
		g, err := raftgroup.New(raftgroup.Config{ID: id, Group: 1, Storage: st, Seed: 1})
		if err != nil {
			tb.Fatal(err)
		}
		c.groups, c.stores = append(c.groups, g), append(c.stores, st)
	}
	c.groups[0].Campaign()
	if err := c.settle(func() bool { return c.groups[0].Role() == raftgroup.Leader }); err != nil {
		tb.Fatal(err)
	}
	return c
}

// round proposes batch entries at the leader (node 1) and runs the group
// until the leader has applied them.
func (c *benchCluster) round(data []byte, batch int) error {
	for range batch {
		if _, _, err := c.groups[0].Propose(data); err != nil {
			return err
		}
	}
	c.proposed += batch
	if err := c.settle(func() bool { return c.proposals[0] >= c.proposed }); err != nil {
		return err
	}
	return c.maybeCompact()
}

// settle handles every Ready (persisting to MemoryStorage) and delivers
// the messages until done reports true.
func (c *benchCluster) settle(done func() bool) error {
	for !done() {
		busy := false
		for i := range c.groups {
			had, err := c.handleReady(i)
			if err != nil {
				return err
			}
			busy = busy || had
		}
		msgs := c.queue
		c.queue = c.spare[:0]
		for _, m := range msgs {
			busy = true
			if err := c.groups[m.To-1].Step(m); err != nil {
				return err
			}
		}
		clear(msgs)
		c.spare = msgs[:0]
		if !busy {
			return fmt.Errorf("group went idle: leader applied %d of %d proposals", c.proposals[0], c.proposed)
		}
	}
	return nil
}

func (c *benchCluster) handleReady(i int) (bool, error) {
	g, st := c.groups[i], c.stores[i]
	if !g.HasReady() {
		return false, nil
	}
	rd := g.Ready()
	if rd.Snapshot != nil {
		return true, fmt.Errorf("unexpected snapshot at %d", rd.Snapshot.Metadata.Index)
	}
	if err := st.Append(rd.Entries); err != nil {
		return true, err
	}
	if !rd.HardState.IsEmpty() {
		st.SetHardState(rd.HardState)
	}
	c.queue = append(c.queue, rd.Messages...)
	c.queue = append(c.queue, rd.MessagesAfterPersist...)
	for j := range rd.CommittedEntries {
		e := &rd.CommittedEntries[j]
		if len(e.Data) > 0 {
			c.proposals[i]++
		}
		c.applied[i] = e.Index
	}
	g.Advance(rd)
	return true, nil
}

func (c *benchCluster) maybeCompact() error {
	low := min(c.applied[0], c.applied[1], c.applied[2])
	if low < c.compacted+benchCompactEvery {
		return nil
	}
	for _, st := range c.stores {
		if err := st.Compact(low); err != nil {
			return err
		}
	}
	c.compacted = low
	return nil
}

// BenchmarkPropose measures committed proposals per second through a
// 3-replica group in memory. One op is one 128-byte proposal, so B/op and
// allocs/op are per proposal; batch is the proposals made per round.
func BenchmarkPropose(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c := newBenchCluster(b)
			data := make([]byte, 128)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				if err := c.round(data, min(batch, b.N-n)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
			// allocs/op is rounded down to an integer; this is not.
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/proposal")
			// Process CPU time (the collector's included), which unlike
			// ns/op does not count waiting for a CPU on a shared machine.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchCluster checks the benchmark's driver: every replica applies
// every proposal, across compactions.
func TestBenchCluster(t *testing.T) {
	const rounds, batch = 40, 256
	c := newBenchCluster(t)
	data := make([]byte, 128)
	for range rounds {
		if err := c.round(data, batch); err != nil {
			t.Fatal(err)
		}
	}
	all := func() bool { return min(c.proposals[0], c.proposals[1], c.proposals[2]) >= c.proposed }
	if err := c.settle(all); err != nil {
		t.Fatal(err)
	}
	if c.compacted == 0 || c.proposed != rounds*batch {
		t.Fatalf("compacted at %d, proposed %d", c.compacted, c.proposed)
	}
}
