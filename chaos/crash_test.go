package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The crash test: writers MSET batches of keys that live in one shard
// (one atomic command) and INCR counters of their own, while kill -9
// takes down one node, two (no quorum) or all three at a random moment,
// sometimes again while a node recovers. After each round the writers
// stop, the cluster comes back, and every batch and counter is read, each
// writer's keys with one MGET, which reads the keys of one shard at one
// moment: a write of unknown outcome may still be applied during the
// check (the RESP server keeps a request up to the store's
// RequestTimeout after its client gave up), and one MGET sees it whole
// or not at all, where reads key by key could see it half done. Each
// batch's keys must hold one batch (never a mix): the last one
// acknowledged (or seen by the previous check), or one of unknown
// outcome; each counter must count every acknowledged INCR, and at most
// the ones of unknown outcome besides.

const (
	crashGroups       = 6 // one writer each
	crashKeysPerBatch = 4
)

// batchWriter is one writer and what it may have left in the store.
type batchWriter struct {
	g       int
	keys    []string
	counter string
	rng     *rand.Rand
	conns   *Conns
	seq     int

	// last is the batch the keys held at the last check, or the last
	// one acknowledged since ("" absent). unknown holds every batch of
	// unknown outcome ever sent: a write that timed out may still be in
	// a Raft log and apply later, even after a check saw the keys.
	last    string
	unknown map[string]bool
	// The counter counts every acknowledged INCR and at most every INCR
	// of unknown outcome (ever, for the same reason).
	incrAcked, incrOpen int
	// figures
	batchesAcked, unknownOps int
	// retried lists the errors since the last check that the writer took
	// to mean "not applied" and retried, to explain a failed check.
	retried []string
}

// batchKeys places group g's keys inside one shard of shards.
func batchKeys(g, shards int) []string {
	s := g % shards
	first := s*KeySpace/shards + KeySpace/(4*shards) + 100*g
	keys := make([]string, crashKeysPerBatch)
	for j := range keys {
		keys[j] = fmt.Sprintf(KeyFormat, first+j) + ".b"
	}
	return keys
}

// write runs one MSET or INCR to an outcome.
func (bw *batchWriter) write(c *Cluster) {
	mset := bw.rng.IntN(3) != 0
	var value string
	if mset {
		bw.seq++
		value = fmt.Sprintf("g%d.s%d", bw.g, bw.seq)
	}
	deadline := time.Now().Add(opBudget)
	for time.Now().Before(deadline) {
		live := c.Live()
		if len(live) == 0 {
			time.Sleep(retryPause)
			continue
		}
		id := live[bw.rng.IntN(len(live))].Spec.ID
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		var err error
		if mset {
			pairs := make([]string, 0, 2*len(bw.keys))
			for _, k := range bw.keys {
				pairs = append(pairs, k, value)
			}
			err = bw.conns.MSet(ctx, id, pairs...)
		} else {
			_, err = bw.conns.Call(ctx, id, Input{Kind: OpIncr, Key: bw.counter})
		}
		cancel()
		switch {
		case err == nil && mset:
			bw.last = value
			bw.batchesAcked++
			return
		case err == nil:
			bw.incrAcked++
			return
		case classify(err) == maybeDone && mset:
			bw.unknown[value] = true
			bw.unknownOps++
			return
		case classify(err) == maybeDone:
			bw.incrOpen++
			bw.unknownOps++
			return
		}
		what := "INCR " + bw.counter
		if mset {
			what = "MSET " + value
		}
		bw.retried = append(bw.retried, fmt.Sprintf("%s %s to node %d: %v", time.Now().UTC().Format("15:04:05.000"), what, id, err))
		time.Sleep(retryPause)
	}
}

// check reads the batch and the counter back and narrows the state to
// what it found.
func (bw *batchWriter) check(c *Cluster) error {
	vals, err := ReadAll(c, append(append([]string(nil), bw.keys...), bw.counter), time.Now().Add(30*time.Second))
	if err != nil {
		return err
	}
	batch, counter := vals[:len(bw.keys)], vals[len(bw.keys)]
	for _, v := range batch[1:] {
		if v != batch[0] {
			return fmt.Errorf("group %d: half-applied batch: keys %v hold %q", bw.g, bw.keys, batch)
		}
	}
	if batch[0] != bw.last && !bw.unknown[batch[0]] {
		return fmt.Errorf("group %d: keys hold %q; the last batch acknowledged or seen is %q, and none of the %d of unknown outcome; retried as not applied: %q",
			bw.g, batch[0], bw.last, len(bw.unknown), bw.retried)
	}
	var n int64
	if counter != "" {
		if n, err = strconv.ParseInt(counter, 10, 64); err != nil {
			return fmt.Errorf("group %d: counter %s = %q", bw.g, bw.counter, counter)
		}
	}
	lo, hi := int64(bw.incrAcked), int64(bw.incrAcked+bw.incrOpen)
	if n < lo || n > hi {
		return fmt.Errorf("group %d: counter %s = %d, want %d..%d (%d INCRs acknowledged, %d of unknown outcome); retried as not applied: %q",
			bw.g, bw.counter, n, lo, hi, bw.incrAcked, bw.incrOpen, bw.retried)
	}
	bw.retried = nil
	bw.last = batch[0]
	return nil
}

// crashVictims picks the nodes a round kills: one (most rounds), two (a
// majority: the shards lose quorum), or all three.
func crashVictims(c *Cluster, rng *rand.Rand) []*Node {
	perm := rng.Perm(len(c.Nodes))
	k := 1
	switch p := rng.IntN(20); {
	case p >= 16:
		k = len(c.Nodes)
	case p >= 11:
		k = len(c.Nodes)/2 + 1
	}
	victims := make([]*Node, k)
	for i := range victims {
		victims[i] = c.Nodes[perm[i]]
	}
	return victims
}

func randDuration(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

func TestProcessCrash(t *testing.T) {
	needChaos(t)
	rounds := 5
	if longMode() {
		rounds = 60
	}
	if *killsFlag > 0 {
		rounds = *killsFlag
	}
	seed := testSeed(t, true, t.Name(), fmt.Sprintf("-chaos.kills=%d", rounds))
	dir := artifacts(t, seed)
	const shards = 4
	started := time.Now()
	c := startCluster(t, loopbackSpec(shardnode(t), dir, 3, shards))
	rng := rand.New(rand.NewPCG(seed, 0xc7a54))
	writers := make([]*batchWriter, crashGroups)
	for g := range writers {
		writers[g] = &batchWriter{g: g, keys: batchKeys(g, shards), counter: fmt.Sprintf(KeyFormat, g*KeySpace/crashGroups+77) + ".n",
			rng: rand.New(rand.NewPCG(seed, uint64(g)+1)), conns: NewConns(c.Nodes), unknown: map[string]bool{}}
		defer writers[g].conns.Close()
	}
	kills := 0
	for round := 1; round <= rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, bw := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 5000; n++ { // bounded; stop ends it long before
					select {
					case <-stop:
						return
					default:
					}
					bw.write(c)
				}
			}()
		}
		time.Sleep(randDuration(rng, 200*time.Millisecond, 2500*time.Millisecond)) // the kill point, under load
		victims := crashVictims(c, rng)
		ids := make([]int, len(victims))
		for i, n := range victims {
			n.Kill()
			ids[i] = n.Spec.ID
		}
		kills += len(victims)
		time.Sleep(randDuration(rng, 0, time.Second)) // writers meet the dead nodes
		for _, n := range victims {
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
		}
		again := ""
		if rng.IntN(5) == 0 { // kill one again while it recovers
			n := victims[rng.IntN(len(victims))]
			time.Sleep(randDuration(rng, 0, 500*time.Millisecond))
			n.Kill()
			kills++
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
			again = fmt.Sprintf(", node %d again while it recovered", n.Spec.ID)
		}
		time.Sleep(randDuration(rng, 500*time.Millisecond, 2*time.Second)) // load during recovery
		close(stop)
		wg.Wait()
		if err := c.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("round %d: %v (node logs in %s)", round, err, dir)
		}
		for _, bw := range writers {
			if err := bw.check(c); err != nil {
				t.Fatalf("seed %d round %d (killed %v%s): %v", seed, round, ids, again, err)
			}
		}
		t.Logf("round %d: killed %v%s; every acknowledged batch and INCR is there, no batch half applied", round, ids, again)
	}
	var batches, incrs, unknown int
	for _, bw := range writers {
		batches += bw.batchesAcked
		incrs += bw.incrAcked
		unknown += bw.unknownOps
	}
	report(t, result{Seed: seed, Seconds: int(time.Since(started).Seconds()), Ops: batches + incrs, Unknown: unknown,
		Faults: fmt.Sprintf("kill=%d", kills), Kills: kills, Verdict: "consistent", AckedChecked: batches + incrs})
}
