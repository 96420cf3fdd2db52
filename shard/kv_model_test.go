package shard

import (
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

var (
	kvModelSeed  = flag.Uint64("kv.seed", 0, "run TestKVModel with only this seed")
	kvModelSteps = flag.Int("kv.steps", 400, "steps per TestKVModel seed")
)

// TestKVModel drives a KV with random rounds of random commands over four
// shards and compares every result and every read with a plain map that
// executes the same commands (kvModel below, written independently of
// kv_exec.go). It also crashes the file system (keeping only synced data,
// or a random part of the unsynced data) and checks that the KV recovers
// to exactly the state after some committed round at or after the last
// sync point, with each shard's applied index naming that round; and it
// ships shard snapshots to a mirror KV and compares them.
func TestKVModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if *kvModelSeed != 0 {
		seeds = []uint64{*kvModelSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newKVModelHarness(t, seed)
			defer h.close()
			for step := 0; step < *kvModelSteps; step++ {
				h.step()
				if t.Failed() {
					t.Fatalf("failed at step %d; replay with -run TestKVModel -kv.seed=%d", step, seed)
				}
			}
		})
	}
}

type kvModelHarness struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand
	fs     *vfs.MemFS
	kv     *KV
	mirror *KV
	shards []Descriptor
	// model is the committed data; round counts committed rounds, and
	// every round records round as the applied index of every shard.
	model map[string]string
	round raftpb.Index
	// history[r] is the model after round r, for rounds since the last
	// sync point (the ones a crash may or may not keep).
	history map[raftpb.Index]map[string]string
}

func newKVModelHarness(t *testing.T, seed uint64) *kvModelHarness {
	h := &kvModelHarness{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), fs: vfs.NewCrashableMem(), model: map[string]string{}}
	bounds := []string{"", "g", "n", "t", ""}
	for i := range 4 {
		d := kvTestState(ShardID(i+1), bounds[i], bounds[i+1], 0).Desc
		h.shards = append(h.shards, d)
	}
	h.kv = h.open(h.fs)
	h.mirror = openTestKV(t, vfs.NewMem(), "mirror")
	kvSetStates(t, h.mirror, h.states()...)
	h.commitStates()
	return h
}

// open opens the KV under test; even seeds use the indexed-batch view,
// odd seeds the overlay, so both stay checked against the model.
func (h *kvModelHarness) open(fs vfs.FS) *KV {
	kv := openTestKV(h.t, fs, "node")
	kv.indexedApply = h.seed%2 == 0
	return kv
}

func (h *kvModelHarness) close() {
	closeKV(h.t, h.kv)
	closeKV(h.t, h.mirror)
}

// states returns every shard's state as of the current round.
func (h *kvModelHarness) states() []ShardState {
	var out []ShardState
	for _, d := range h.shards {
		out = append(out, ShardState{Desc: d, Applied: h.round, AppliedTerm: 1, ConfState: raftpb.ConfState{Voters: d.Replicas}})
	}
	return out
}

// commitStates commits a round with no commands (the initial states).
func (h *kvModelHarness) commitStates() {
	kvSetStates(h.t, h.kv, h.states()...)
	// Shard creation must be durable before anything relies on it.
	if err := h.kv.SyncPoint(); err != nil {
		h.t.Fatal(err)
	}
	h.history = map[raftpb.Index]map[string]string{h.round: maps.Clone(h.model)}
}

func (h *kvModelHarness) step() {
	switch p := h.rng.IntN(100); {
	case p < 70:
		h.applyRound(true)
	case p < 75:
		h.applyRound(false)
	case p < 85:
		h.checkReads()
	case p < 90:
		if err := h.kv.SyncPoint(); err != nil {
			h.t.Fatal(err)
		}
		h.history = map[raftpb.Index]map[string]string{h.round: maps.Clone(h.model)}
	case p < 95:
		h.crash()
	default:
		h.shipSnapshot()
	}
}

// applyRound applies one round of random commands; if commit is false the
// batch is abandoned and nothing may change.
func (h *kvModelHarness) applyRound(commit bool) {
	t := h.t
	b := h.kv.NewApplyBatch()
	defer b.Close()
	next := maps.Clone(h.model)
	for i := range 1 + h.rng.IntN(20) {
		d := &h.shards[h.rng.IntN(len(h.shards))]
		cmd := h.randomCommand(d, next)
		want := kvModelExec(next, d, cmd)
		got, err := DecodeResult(b.Apply(d.ID, &raftpb.Entry{Index: raftpb.Index(i + 1), Data: EncodeCommand(cmd)}))
		if err != nil || !kvResultsEqual(got, want) {
			t.Errorf("seed %d round %d: %+v on shard %d: got %+v (%v), want %+v", h.seed, h.round+1, cmd, d.ID, got, err, want)
			return
		}
	}
	if !commit {
		return
	}
	h.round++
	for _, st := range h.states() {
		b.SetState(st)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	h.model = next
	h.history[h.round] = maps.Clone(next)
}

// checkReads compares Get and random Scans of every shard with the model.
func (h *kvModelHarness) checkReads() {
	for i := range h.shards {
		d := &h.shards[i]
		k := h.randomKey(d)
		v, ok, err := h.kv.Get(d.ID, []byte(k))
		mv, mok := h.model[k]
		if err != nil || ok != mok || string(v) != mv {
			h.t.Errorf("seed %d: get %q = %q %v %v, model %q %v", h.seed, k, v, ok, err, mv, mok)
		}
		start, end := h.randomKey(d), ""
		if h.rng.IntN(2) == 0 {
			end = h.randomKey(d)
		}
		limit := 1 + h.rng.IntN(30)
		kvs, err := h.kv.Scan(d.ID, []byte(start), []byte(end), limit)
		if err != nil {
			h.t.Fatal(err)
		}
		if got, want := kvFmtPairs(kvs), kvModelScan(h.model, d, start, end, limit); got != want {
			h.t.Errorf("seed %d: scan shard %d [%q, %q) limit %d:\n got %s\nwant %s", h.seed, d.ID, start, end, limit, got, want)
		}
	}
}

// crash reopens the KV on a crash clone of its file system.
func (h *kvModelHarness) crash() {
	t := h.t
	cfg := vfs.CrashCloneCfg{}
	if h.rng.IntN(2) == 0 {
		cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(h.rng.Uint64(), 0))}
	}
	clone := h.fs.CrashClone(cfg)
	closeKV(t, h.kv)
	h.fs = clone
	h.kv = h.open(clone)
	states, err := h.kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(h.shards) {
		t.Fatalf("seed %d: %d shards after crash", h.seed, len(states))
	}
	r := states[0].Applied
	for _, st := range states {
		if st.Applied != r {
			t.Fatalf("seed %d: shards recovered at different rounds: %+v", h.seed, states)
		}
	}
	want, ok := h.history[r]
	if !ok {
		t.Fatalf("seed %d: recovered round %d, before the last sync point (have %v)", h.seed, r, slices.Sorted(maps.Keys(h.history)))
	}
	if got := kvModelFmt(h.dumpAll()); got != kvModelFmt(want) {
		t.Fatalf("seed %d: after crash at round %d:\n got %s\nwant %s", h.seed, r, got, kvModelFmt(want))
	}
	h.model, h.round = want, r
	h.history = map[raftpb.Index]map[string]string{r: maps.Clone(want)}
}

// shipSnapshot installs a random shard's snapshot into the mirror KV and
// compares the mirror's copy with the model.
func (h *kvModelHarness) shipSnapshot() {
	t := h.t
	d := &h.shards[h.rng.IntN(len(h.shards))]
	st, src, err := h.kv.Snapshot(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if st.Applied != h.round {
		t.Fatalf("seed %d: snapshot at %d, round %d", h.seed, st.Applied, h.round)
	}
	rc, err := src.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := h.mirror.Install(t.Context(), st, rc); err != nil {
		t.Fatal(err)
	}
	kvs, err := h.mirror.Scan(d.ID, nil, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kvFmtPairs(kvs), kvModelScan(h.model, d, "", "", 1<<20); got != want {
		t.Fatalf("seed %d: mirror of shard %d:\n got %s\nwant %s", h.seed, d.ID, got, want)
	}
}

func (h *kvModelHarness) dumpAll() map[string]string {
	out := map[string]string{}
	for _, d := range h.shards {
		kvs, err := h.kv.Scan(d.ID, nil, nil, 1<<20)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range kvs {
			out[string(p.Key)] = string(p.Value)
		}
	}
	return out
}

// randomKey returns a key of zero to two letters inside d.
func (h *kvModelHarness) randomKey(d *Descriptor) string {
	for {
		k := string(rune('a' + h.rng.IntN(26)))
		switch h.rng.IntN(8) {
		case 0:
			k = ""
		case 1, 2, 3:
			k += string(rune('a' + h.rng.IntN(26)))
		}
		if d.Contains([]byte(k)) {
			return k
		}
	}
}

func (h *kvModelHarness) randomValue(cur map[string]string) string {
	switch h.rng.IntN(8) {
	case 0:
		return ""
	case 1:
		return "abc"
	case 2:
		return strconv.FormatInt(math.MaxInt64-int64(h.rng.IntN(3)), 10)
	case 3:
		return "-" + strconv.Itoa(h.rng.IntN(1000))
	case 4:
		return "007"
	}
	return strconv.Itoa(h.rng.IntN(100))
}
