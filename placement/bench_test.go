package placement

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// The benchmark, as a measurement run by hand (docs/benchmarks.md,
// "Placement"):
//
//	FLOTILLA_BENCH=1 go test ./placement -run TestRebalanceFigures -v -timeout 30m
//
// Three nodes with 1,024 shards and FLOTILLA_BENCH_MB of data (default
// 64) in 1 KiB values; clients read and write through every node the
// whole time. It reports the time from adding a 4th node to balance, and
// from killing a node to every shard being fully replicated on the
// survivors, each with the clients' throughput and latency percentiles
// over that window (and over a quiet window before, for comparison).

// loadStats collects client latencies over windows.
type loadStats struct {
	mu   sync.Mutex
	lats []time.Duration
	errs int
}

func (s *loadStats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs++
		return
	}
	s.lats = append(s.lats, d)
}

// take returns and resets what was collected.
func (s *loadStats) take() ([]time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, e := s.lats, s.errs
	s.lats, s.errs = nil, 0
	return l, e
}

type window struct {
	name     string
	took     time.Duration
	ops      int
	errs     int
	p50, p99 time.Duration
}

func (w window) String() string {
	return fmt.Sprintf("%-28s %8.1fs %9.0f ops/s %8.2fms p50 %8.2fms p99 %6d errors",
		w.name, w.took.Seconds(), float64(w.ops)/w.took.Seconds(), ms(w.p50), ms(w.p99), w.errs)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func measure(name string, took time.Duration, s *loadStats) window {
	lats, errs := s.take()
	slices.Sort(lats)
	w := window{name: name, took: took, ops: len(lats), errs: errs}
	if len(lats) > 0 {
		w.p50 = lats[len(lats)*50/100]
		w.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return w
}

func TestRebalanceFigures(t *testing.T) {
	if os.Getenv("FLOTILLA_BENCH") == "" {
		t.Skip("a measurement run by hand: set FLOTILLA_BENCH=1 (see docs/benchmarks.md)")
	}
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("FLOTILLA_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	const shards, valueBytes, clients = 1024, 1024, 8
	keys := mb << 20 / valueBytes
	seed := testSeed(t)

	start := time.Now()
	c := newTestCluster(t, 3, shards, func(o *Options) {
		scaleTweak(o)
		debugLog(t, o)
	})
	c.waitFor(5*time.Minute, "the initial layout", func(st Status) bool {
		return len(st.Shards) == shards+1 && balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
	t.Logf("3 nodes with %d shards up in %v", shards, time.Since(start).Round(time.Millisecond))

	keyOf := func(i int) []byte { return fmt.Appendf(nil, "k%06d", (i*7919)%1000000) }
	start = time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.node(raftpb.NodeID(1 + w%3)).Store()
			for {
				i := int(next.Add(1)) - 1
				if i >= keys {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := s.Put(ctx, keyOf(i), sizedValue("", string(keyOf(i)), valueBytes))
				cancel()
				if err != nil {
					t.Errorf("load %s: %v", keyOf(i), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	load := time.Since(start)
	t.Logf("loaded %d keys x %d B (%d MiB) in %v (%.0f puts/s)", keys, valueBytes, mb, load.Round(time.Millisecond), float64(keys)/load.Seconds())

	// Clients: half linearizable gets, half puts, on random loaded keys,
	// each through a random running node.
	stats := &loadStats{}
	done := make(chan struct{})
	var cw sync.WaitGroup
	for i := range clients {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		value := make([]byte, valueBytes)
		cw.Add(1)
		go func() {
			defer cw.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ids := c.ids()
				n := c.node(ids[rng.IntN(len(ids))])
				if n == nil {
					continue
				}
				key := keyOf(rng.IntN(keys))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				t0 := time.Now()
				var err error
				if rng.IntN(2) == 0 {
					_, _, err = n.Store().Get(ctx, key)
				} else {
					for j := range value {
						value[j] = byte(rng.Uint32())
					}
					err = n.Store().Put(ctx, key, value)
				}
				stats.add(time.Since(t0), err)
				cancel()
			}
		}()
	}
	defer func() {
		close(done)
		cw.Wait()
	}()

	var windows []window
	quiet := 10 * time.Second
	stats.take()
	time.Sleep(quiet) // a measurement window, not a wait for a condition
	windows = append(windows, measure("steady, 3 nodes", quiet, stats))
	t.Log(windows[len(windows)-1])

	c.addAddrs(4)
	if err := c.open(4, 3); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	st := c.waitFor(20*time.Minute, "balance after adding node 4", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 2, 3, 4}, 3)
	})
	windows = append(windows, measure("add 4th node -> balanced", time.Since(start), stats))
	t.Log(windows[len(windows)-1])
	t.Logf("balanced: %+v", st.Nodes)

	stats.take()
	time.Sleep(quiet)
	windows = append(windows, measure("steady, 4 nodes", quiet, stats))
	t.Log(windows[len(windows)-1])

	const victim = raftpb.NodeID(2)
	c.kill(victim)
	start = time.Now()
	c.waitFor(20*time.Minute, "re-replication after node 2 died", func(st Status) bool {
		return balanced(st, []raftpb.NodeID{1, 3, 4}, 3)
	})
	windows = append(windows, measure("kill a node -> re-replicated", time.Since(start), stats))

	dt := c.options(1, 3).Plan.DeadTimeout
	report := fmt.Sprintf("placement figures: %d shards, %d MiB (%d keys x %d B), %d clients (50%% get, 50%% put), dead timeout %v, max moves %d per node, %d in all\n",
		shards, mb, keys, valueBytes, clients, dt, c.options(1, 3).Plan.MaxMovesPerNode, c.options(1, 3).Plan.MaxMoves)
	for _, w := range windows {
		report += "  " + w.String() + "\n"
	}
	t.Log(report)
	fmt.Print(report)
}
