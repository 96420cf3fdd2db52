package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestGetManySingleNode: GetMany returns each key's value in the order
// asked, across shards, with absent keys not found, empty values found
// and repeated keys answered at each place; it refuses more than
// MaxGetManyKeys keys and reads nothing of an empty list.
func TestGetManySingleNode(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), "g", "p")
	defer s.Close()
	waitLeaders(t, s)
	for _, kv := range [][2]string{{"apple", "1"}, {"kiwi", "2"}, {"pear", "3"}, {"zucchini", ""}} {
		if err := s.Put(ctx, []byte(kv[0]), []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, []byte("kiwi")); err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{[]byte("pear"), []byte("kiwi"), []byte("apple"), []byte("zucchini"), []byte("absent"), []byte("pear")}
	for _, c := range []Consistency{Linearizable, Lease, Stale} {
		vals, found, err := s.GetMany(ctx, keys, c)
		if err != nil {
			t.Fatalf("consistency %d: %v", c, err)
		}
		want := []struct {
			v     string
			found bool
		}{{"3", true}, {"", false}, {"1", true}, {"", true}, {"", false}, {"3", true}}
		if len(vals) != len(want) || len(found) != len(want) {
			t.Fatalf("consistency %d: %d values, %d flags for %d keys", c, len(vals), len(found), len(want))
		}
		for i, w := range want {
			if string(vals[i]) != w.v || found[i] != w.found || (w.found && vals[i] == nil) {
				t.Errorf("consistency %d: %s = %q (%v, nil %v), want %q %v", c, keys[i], vals[i], found[i], vals[i] == nil, w.v, w.found)
			}
		}
	}
	if vals, found, err := s.GetMany(ctx, nil); err != nil || len(vals) != 0 || len(found) != 0 {
		t.Fatalf("no keys: %q %v %v", vals, found, err)
	}
	many := make([][]byte, MaxGetManyKeys+1)
	for i := range many {
		many[i] = fmt.Appendf(nil, "k%05d", i)
	}
	if _, _, err := s.GetMany(ctx, many); !errors.Is(err, ErrTooManyKeys) || !bytes.Contains([]byte(err.Error()), []byte("4097 keys (max 4096)")) {
		t.Fatalf("%d keys: %v, want ErrTooManyKeys", len(many), err)
	}
	vals, found, err := s.GetMany(ctx, many[:MaxGetManyKeys])
	if err != nil || len(vals) != MaxGetManyKeys {
		t.Fatalf("%d keys: %d values, %v", MaxGetManyKeys, len(vals), err)
	}
	for i := range found {
		if found[i] {
			t.Fatalf("%s found: %q", many[i], vals[i])
		}
	}
	_ = s.Close()
	if _, _, err := s.GetMany(ctx, keys); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed store: %v, want ErrClosed", err)
	}
}

// TestKVGetManyDuringApplies: readers call KV.GetMany on the five keys
// of a shard, in reverse order, while rounds each set all five to the
// round number in one apply batch; every read sees five equal values
// (or none), never going backwards. Rounds go on until each reader has
// read 500 times and seen the values change.
func TestKVGetManyDuringApplies(t *testing.T) {
	const readers = 3
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	keys := [][]byte{[]byte("k4"), []byte("k3"), []byte("k2"), []byte("k1"), []byte("k0")}
	done := make(chan struct{})
	// finished counts the readers that have read enough, or failed.
	var finished atomic.Int32
	errs := make([]error, readers)
	changes := make([]int, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			errs[r] = readKVSets(kv, keys, done, &changes[r], func() { finished.Add(1) })
		})
	}
	rounds := 0
	for ; finished.Load() < readers && rounds < 1_000_000; rounds++ {
		var c Command
		for _, k := range keys {
			c.Ops = append(c.Ops, Op{Kind: OpPut, Key: k, Value: strconv.AppendInt(nil, int64(rounds+1), 10)})
		}
		kvApply(t, kv, 1, c)
	}
	close(done)
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("reader %d: %v", r, err)
		} else if changes[r] == 0 {
			t.Errorf("reader %d never saw the values change in %d rounds", r, rounds)
		}
	}
	t.Logf("%d rounds; changes seen per reader %v", rounds, changes)
}

// readKVSets reads keys with kv.GetMany until done is closed, checking
// that every read sees one round, never an older one than the read
// before; it counts the changes it sees and calls finished once, when it
// has read kvGetManyReads times and seen a change, or has failed.
func readKVSets(kv *KV, keys [][]byte, done <-chan struct{}, changes *int, finished func()) error {
	const kvGetManyReads = 500
	last, counted := 0, false
	for n := 0; ; n++ {
		select {
		case <-done:
			return nil
		default:
		}
		if !counted && n >= kvGetManyReads && *changes > 0 {
			counted = true
			finished()
		}
		round, err := readKVRound(kv, keys)
		if err == nil && round < last {
			err = fmt.Errorf("saw round %d after round %d", round, last)
		}
		if err != nil {
			err = fmt.Errorf("read %d: %w", n, err)
			if !counted {
				finished()
			}
			return err
		}
		if n > 0 && round != last {
			*changes++
		}
		last = round
	}
}

// readKVRound reads keys with one kv.GetMany and returns the round they
// hold (0: none yet), or an error if they differ.
func readKVRound(kv *KV, keys [][]byte) (int, error) {
	vals, found, err := kv.GetMany(1, keys)
	if err != nil {
		return 0, err
	}
	for i := range keys {
		if found[i] != found[0] || !bytes.Equal(vals[i], vals[0]) {
			return 0, fmt.Errorf("keys %q hold %q (found %v)", keys, vals, found)
		}
	}
	round, _ := strconv.Atoi(string(vals[0]))
	return round, nil
}

// TestKVGetManyRange: KV.GetMany refuses a key outside the shard's range
// and a shard it does not host, reading nothing.
func TestKVGetManyRange(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "b", "m", 0))
	kvApply(t, kv, 1, Command{Ops: []Op{{Kind: OpPut, Key: []byte("c"), Value: []byte("1")}}})
	if vals, found, err := kv.GetMany(1, [][]byte{[]byte("c"), []byte("d")}); err != nil || string(vals[0]) != "1" || !found[0] || found[1] {
		t.Fatalf("in range: %q %v %v", vals, found, err)
	}
	for _, k := range []string{"a", "m", "z"} {
		if _, _, err := kv.GetMany(1, [][]byte{[]byte("c"), []byte(k)}); !errors.Is(err, ErrKeyOutOfRange) {
			t.Errorf("key %q: %v, want ErrKeyOutOfRange", k, err)
		}
	}
	if _, _, err := kv.GetMany(2, [][]byte{[]byte("c")}); !errors.Is(err, ErrShardNotHosted) {
		t.Errorf("shard 2: %v, want ErrShardNotHosted", err)
	}
}

// getManySets returns the key sets of the atomicity tests: each lies in one
// shard of a 4-shard test cluster (splitKeys(4)), and a writer puts one
// value to every key of a set in one batch.
func getManySets() [][]string {
	return [][]string{
		{"k000100", "k000101", "k000102", "k000103", "k000104", "k000105"},
		{"k600100", "k600101", "k600102", "k600103"},
	}
}

// TestGetManyAtomicPerShard: while writers keep putting one value to
// every key of a set (one batch of one shard), GetMany of every set's
// keys, from the leader's node, from a node that forwards to it and as a
// stale read of a follower's own state, sees each set hold one value.
func TestGetManyAtomicPerShard(t *testing.T) {
	const seed = 41
	c := newMemCluster(t, 3, 4, seed)
	getManyAtomic(t, c, seed)
}

// TestTCPGetManyAtomicPerShard is TestGetManyAtomicPerShard over the TCP
// transport: the forwarded reads travel as real calls.
func TestTCPGetManyAtomicPerShard(t *testing.T) {
	const seed = 43
	c := newTCPCluster(t, 3, 4, seed, nil)
	getManyAtomic(t, c, seed)
}

// getManyAtomic runs the atomicity check on cluster c. Readers read
// until the writers have written getManyBatches batches; the check counts
// only if every reader saw the sets change (so its reads overlapped the
// writes).
func getManyAtomic(t *testing.T, c *testCluster, seed uint64) {
	const getManyBatches = 600
	for _, set := range getManySets() { // waits for the shards' leaders
		if err := c.do([]byte(set[0]), func(s *Store) error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := s.Exec(ctx, setBatch(set, []byte("warm")))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	leader := c.leaderOf(t, getManySets()[0][0])
	var follower raftpb.NodeID
	for _, id := range c.live() {
		if id != leader {
			follower = id
			break
		}
	}
	var keys [][]byte
	for _, set := range getManySets() {
		for _, k := range set {
			keys = append(keys, []byte(k))
		}
	}
	stop, enough := make(chan struct{}), make(chan struct{})
	var wrote atomic.Int64
	var wg sync.WaitGroup
	live := c.live()
	for w := range 4 {
		// Writers send to every node in turn: most writes are forwarded
		// to the leader.
		wg.Go(func() {
			writeSets(c.node(live[w%len(live)]), w, stop, func() {
				if wrote.Add(1) == getManyBatches {
					close(enough)
				}
			})
		})
	}
	readers := []struct {
		node raftpb.NodeID
		cons Consistency
	}{{leader, Linearizable}, {follower, Linearizable}, {follower, Stale}}
	errs := make([]error, len(readers))
	reads, changes := make([]int, len(readers)), make([]int, len(readers))
	for i, r := range readers {
		wg.Go(func() {
			reads[i], changes[i], errs[i] = readSets(c.node(r.node), keys, r.cons, stop)
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Errorf("only %d of %d batches written in 60 s", wrote.Load(), getManyBatches)
	}
	close(stop)
	wg.Wait()
	for i, r := range readers {
		if errs[i] != nil {
			t.Errorf("reader at node %d (leader %d), consistency %d, read %d (seed %d): %v", r.node, leader, r.cons, reads[i], seed, errs[i])
		} else if changes[i] == 0 {
			t.Errorf("reader at node %d, consistency %d: the sets never changed in %d reads: the check proved nothing", r.node, r.cons, reads[i])
		}
	}
	var fwd uint64
	for _, id := range c.live() {
		if id != leader {
			fwd += c.node(id).Metrics().Forwarded
		}
	}
	t.Logf("leader %d, %d batches written; reads %v, changes seen %v; %d requests forwarded by followers", leader, wrote.Load(), reads, changes, fwd)
	if fwd == 0 {
		t.Error("no follower forwarded anything")
	}
}

// writeSets puts "w<w>-<n>" to every key of each set, one batch per set,
// through s, until stop is closed, calling ok after each batch written.
func writeSets(s *Store, w int, stop <-chan struct{}, ok func()) {
	for n := 0; ; n++ {
		for _, set := range getManySets() {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// An error (a timeout on a loaded machine) only means fewer
			// batches: the test waits for enough of them.
			if _, err := s.Exec(ctx, setBatch(set, fmt.Appendf(nil, "w%d-%d", w, n))); err == nil {
				ok()
			}
			cancel()
		}
	}
}

// setBatch is the batch that puts v to every key of set.
func setBatch(set []string, v []byte) Command {
	var cmd Command
	for _, k := range set {
		cmd.Ops = append(cmd.Ops, Op{Kind: OpPut, Key: []byte(k), Value: v})
	}
	return cmd
}

// readSets reads keys (the sets, in order) with GetMany until stop is
// closed, and checks that each read sees every set hold one value (or be
// absent as a whole: a stale read may come before the first batch). It
// returns the reads made and how often a set's value differed from the
// one the read before saw.
func readSets(s *Store, keys [][]byte, c Consistency, stop <-chan struct{}) (reads, changes int, err error) {
	last := make([]string, len(getManySets()))
	for ; ; reads++ {
		select {
		case <-stop:
			return reads, changes, nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		vals, found, err := s.GetMany(ctx, keys, c)
		cancel()
		if err != nil {
			return reads, changes, err
		}
		at := 0
		for si, set := range getManySets() {
			got, in := vals[at:at+len(set)], found[at:at+len(set)]
			for i := range set {
				if in[i] != in[0] || !bytes.Equal(got[i], got[0]) {
					return reads, changes, fmt.Errorf("half-applied batch: %v hold %q (found %v)", set, got, in)
				}
			}
			if reads > 0 && string(got[0]) != last[si] {
				changes++
			}
			last[si] = string(got[0])
			at += len(set)
		}
	}
}

// TestTCPGetManyAnswerTooLarge: a forwarded GetMany whose answer does not
// fit a transport frame fails at once with ErrTooLarge, which retrying
// cannot mend, rather than reading as a shard without quorum.
func TestTCPGetManyAnswerTooLarge(t *testing.T) {
	const frame = 256 << 10
	c := newTCPCluster(t, 3, 1, 47, func(_ raftpb.NodeID, o *Options) { o.TransportOptions.MaxFrameBytes = frame })
	var keys [][]byte
	for i := range 3 { // one at a time: each append fits a frame
		k := fmt.Sprintf("k%06d", i)
		c.put(k, string(bytes.Repeat([]byte{'x'}, frame/3)))
		keys = append(keys, []byte(k))
	}
	leader := c.leaderOf(t, "k000000")
	follower := c.live()[0]
	if follower == leader {
		follower = c.live()[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if vals, _, err := c.node(follower).GetMany(ctx, keys[:2]); err != nil || len(vals[1]) != frame/3 {
		t.Fatalf("two values from follower %d: %v", follower, err)
	}
	_, _, err := c.node(follower).GetMany(ctx, keys)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("three values from follower %d (leader %d): %v, want ErrTooLarge", follower, leader, err)
	}
	t.Log(err)
}
