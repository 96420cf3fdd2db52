package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLeaseBound shows that the clock-drift bound of lease reads is real:
// the same scenario, a leader cut off from its followers while clients
// still reach it, gives stale reads when the leader's clock runs 5 times
// slower than its followers' and lease reads are on, and none when its
// clock is 5% slow or when lease reads are off.
//
// Why it is deterministic enough to be a test (ticks of 100 ms, election
// timeout 10 ticks, lease 8 ticks): followers start an election 10 to 20
// of their ticks (1 to 2 s) after the last message from the leader and
// the new leader commits a write within milliseconds; the old leader
// serves from its lease until 8 of its ticks have passed since it sent
// the last heartbeat a quorum answered: about 840 ms for a clock 5% slow (always before the new
// leader exists), 4 s for a clock 5 times slower (always after: a window
// of 2 s or more for stale reads).
func TestLeaseBound(t *testing.T) {
	needLong(t)
	if why := NetUnavailable(); why != "" {
		t.Skip("network namespaces unavailable (the leader must be cut off while clients reach it): " + why)
	}
	Sweep()
	nt, err := NewNet(3, uint64(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nt.Close(); err != nil {
			t.Errorf("removing the test network: %v", err)
		}
	})
	cases := []struct {
		name      string
		lease     bool
		rate      float64
		wantStale bool
	}{
		{"lease_slow5x", true, 0.2, true},
		{"lease_slow5pct", true, 0.95, false},
		{"nolease_slow5x", false, 0.2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := leaseScenario(t, nt, tc.lease, tc.rate)
			stale, reads := res.stale, res.served
			t.Logf("lease reads %v, the leader's clock at %g of real speed: %d reads served by the cut-off leader, the last %v after the cut; %d after the new value was acknowledged (%v after the cut), %d of them stale",
				tc.lease, tc.rate, res.cutOff, res.lastOK.Round(time.Millisecond), reads, res.acked.Round(time.Millisecond), stale)
			// Lease reads on, the cut-off leader serves from its lease (it
			// can confirm nothing); off, it serves nothing.
			if tc.lease != (res.cutOff > 0) {
				t.Errorf("lease reads %v, yet the cut-off leader served %d reads", tc.lease, res.cutOff)
			}
			switch {
			case tc.wantStale && stale == 0:
				t.Errorf("expected stale reads beyond the drift bound; none (%d reads served): the scenario did not happen as designed", reads)
			case !tc.wantStale && stale > 0:
				t.Errorf("%d stale reads within the bound: lease reads are not linearizable", stale)
			}
		})
	}
}

// leaseResult is what the cut-off leader answered: cutOff reads in all
// after the cut, the last ending lastOK after it; served after the newer
// write was acknowledged (acked after the cut), stale of them with the
// older value.
type leaseResult struct {
	cutOff, served, stale int
	lastOK, acked         time.Duration
}

// leaseScenario runs one case: a one-shard cluster whose leader's clock
// runs at rate, cut off from both followers while a client reads through
// it and another writes a newer value through a follower.
func leaseScenario(t *testing.T, nt *Net, lease bool, rate float64) (res leaseResult) {
	seed := testSeed(t, true, "TestLeaseBound", "")
	dir := artifacts(t, seed)
	spec := netnsSpec(shardnode(t), dir, nt, 3, 1)
	for i := range spec.Nodes {
		if lease {
			spec.Nodes[i].Args = append(spec.Nodes[i].Args, "--lease-reads")
		}
	}
	// Groups never go quiet, so the leader's lease is in use at the cut.
	noQuiesce := "FLOTILLA_TEST_NO_QUIESCE=1"
	rateEnv := fmt.Sprintf("FLOTILLA_TEST_CLOCK_RATE=%g", rate)
	// Nodes 1 and 2 start with the slow clock and elect one of them; node
	// 3 joins and follows it; then the other slow node is restarted with
	// a normal clock (it cannot be elected meanwhile: node 3 hears from
	// the leader and refuses), so that the leader alone runs slow.
	spec.Nodes[0].Env, spec.Nodes[1].Env = []string{rateEnv, noQuiesce}, []string{rateEnv, noQuiesce}
	spec.Nodes[2].Env = []string{noQuiesce}
	c := NewCluster(spec)
	t.Cleanup(c.Stop)
	for _, n := range c.Nodes[:2] {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("%v (logs in %s)", err, dir)
	}
	leader := waitLeader(t, c.Nodes[0], 30*time.Second)
	follower := c.Nodes[2-leader] // the other of nodes 1 and 2
	if err := c.Nodes[2].Start(); err != nil {
		t.Fatal(err)
	}
	if l := waitLeader(t, c.Nodes[2], 30*time.Second); l != leader {
		t.Fatalf("leadership moved from node %d to node %d when node 3 joined", leader, l)
	}
	follower.Kill()
	follower.Spec.Env = []string{noQuiesce}
	if err := follower.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("%v (logs in %s)", err, dir)
	}
	for _, n := range c.Nodes {
		if l := waitLeader(t, n, 30*time.Second); l != leader {
			t.Fatalf("leadership moved from node %d to node %d while the follower restarted", leader, l)
		}
	}
	L, F := c.Nodes[leader-1], follower
	t.Logf("node %d leads with its clock at %g; nodes %d and %d run at real speed", leader, rate, F.Spec.ID, c.Nodes[2].Spec.ID)

	key := fmt.Sprintf(KeyFormat, 42)
	cl, cf := leaseClient(L), leaseClient(F)
	defer cl.Close()
	defer cf.Close()
	// The old leader serves reads and writes: its lease is in use.
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := cl.Set(ctx, key, fmt.Sprintf("old%d", i), 0).Err()
		if err == nil {
			err = cl.Get(ctx, key).Err()
		}
		cancel()
		if err != nil {
			t.Fatalf("writing through the leader before the partition: %v", err)
		}
	}
	old := "old19"

	if err := nt.Partition([]int{leader}, []int{F.Spec.ID, c.Nodes[2].Spec.ID}); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	defer nt.Heal()

	// Reads through the old leader, from the cut on, for 6 s.
	type read struct {
		start, end time.Time
		val        string
		err        error
	}
	var (
		mu    sync.Mutex
		reads []read
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; time.Since(cut) < 6*time.Second && i < 100000; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			r := read{start: time.Now()}
			r.val, r.err = cl.Get(ctx, key).Result()
			r.end = time.Now()
			cancel()
			mu.Lock()
			reads = append(reads, r)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	// The new value, written through a follower until the majority side
	// has elected a leader and acknowledged it.
	var acked time.Time
	for time.Since(cut) < 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cf.Set(ctx, key, "new", 0).Err()
		cancel()
		if err == nil {
			acked = time.Now()
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if acked.IsZero() {
		t.Fatalf("the majority side acknowledged no write in 10 s after the cut")
	}
	res.acked = acked.Sub(cut)
	errs := map[string]int{}
	for _, r := range reads {
		if r.err != nil {
			errs[r.err.Error()]++
			continue
		}
		res.cutOff++
		res.lastOK = r.end.Sub(cut)
		if !r.start.After(acked) {
			continue
		}
		res.served++
		if r.val == old {
			res.stale++
		} else if r.val != "new" {
			t.Errorf("the old leader read %q", r.val)
		}
	}
	t.Logf("failed reads through the cut-off leader: %v", errs)
	return res
}

func leaseClient(n *Node) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Spec.ClientAddr, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, PoolSize: 1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
}

// leaderSeenBy returns the leader of the one shard as n sees it (0 if
// unknown or unreachable).
func leaderSeenBy(hc *http.Client, n *Node) int {
	resp, err := hc.Get("http://" + n.Spec.HTTPAddr + "/api/shards")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var shards []struct {
		Leader int `json:"leader"`
	}
	if json.NewDecoder(resp.Body).Decode(&shards) != nil || len(shards) != 1 {
		return 0
	}
	return shards[0].Leader
}

// waitLeader returns the leader of the cluster's one shard as n sees it.
func waitLeader(t *testing.T, n *Node, timeout time.Duration) int {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := hc.Get("http://" + n.Spec.HTTPAddr + "/api/shards")
		if err == nil {
			var shards []struct {
				Leader int `json:"leader"`
			}
			err = json.NewDecoder(resp.Body).Decode(&shards)
			resp.Body.Close()
			if err == nil && len(shards) == 1 && shards[0].Leader != 0 {
				// The leader must agree that it leads (n's view may be old).
				if l := shards[0].Leader; l == n.Spec.ID || leaderSeenBy(hc, n.c.Nodes[l-1]) == l {
					return l
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %d saw no leader in %v", n.Spec.ID, timeout)
	return 0
}
