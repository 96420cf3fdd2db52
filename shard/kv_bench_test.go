package shard

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// BenchmarkKVApplyBatch measures apply throughput of rounds of 256
// commands spread over 64 shards, each round committing one batch (no
// sync) with the applied index of every shard it touched (one applied
// record, kv_applied.go), as the store does.
// Workloads: put (16-byte values, distinct keys), incr (OpIncr over 4096
// counters, so each command reads, some of them a key written earlier in
// the same round), cas (a put on a key, then a CAS on it in the same
// round). Views: overlay (plain batch + map of the round's writes) and
// indexed (pebble indexed batch); see applyView.
//
// Besides ops/s it reports cpu-ns/op, the process's CPU time per command
// (pebble's background work included), which is steadier than wall time
// on a shared machine. Medians of 6 runs, -benchtime 1000x, on the 2-vCPU
// machine of DEPENDENCIES.md while other jobs ran:
//
//	| workload | overlay cpu-ns/op | ops/s   | indexed cpu-ns/op | ops/s   |
//	|----------|-------------------|---------|-------------------|---------|
//	| put      | 1988              | 406,000 | 1861              | 331,000 |
//	| incr     | 4250              | 138,000 | 6325              |  61,000 |
//	| cas      | 2051              | 373,000 | 3343              |  99,000 |
func BenchmarkKVApplyBatch(b *testing.B) {
	for _, view := range []string{"overlay", "indexed"} {
		for _, wl := range []string{"put", "incr", "cas"} {
			b.Run(view+"/"+wl, func(b *testing.B) { benchApply(b, view == "indexed", wl) })
		}
	}
}

const (
	benchShards      = 64
	benchRoundCmds   = 256
	benchRoundsCache = 64
)

func benchApply(b *testing.B, indexed bool, workload string) {
	kv, err := OpenKV(b.TempDir(), KVOptions{CacheBytes: 64 << 20, MemTableBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer kv.Close()
	kv.indexedApply = indexed
	states := make([]ShardState, benchShards)
	for i := range states {
		states[i] = kvTestState(ShardID(i+1), fmt.Sprintf("%02d/", i), fmt.Sprintf("%02d/", i+1), 0)
	}
	kvSetStates(b, kv, states...)
	rng := rand.New(rand.NewPCG(1, 1))
	rounds := make([][]benchEntry, benchRoundsCache)
	for r := range rounds {
		rounds[r] = benchRound(rng, workload, r)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := kv.NewApplyBatch()
		touched := map[ShardID]bool{}
		for _, e := range rounds[i%len(rounds)] {
			if batch.Apply(e.shard, &e.entry) == nil {
				b.Fatal("no result")
			}
			touched[e.shard] = true
		}
		for id := range touched {
			batch.(appliedRecorder).SetApplied(id, raftpb.Index(i+1), 3)
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	b.StopTimer()
	ops := float64(b.N * benchRoundCmds)
	b.ReportMetric(ops/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(processCPU(b)-cpu0)/ops, "cpu-ns/op")
}

// processCPU returns the process's user+system CPU time. The benchmark
// reports it per op beside ops/s because on a shared machine wall time
// measures the neighbours as much as the code; it includes pebble's
// background flushes and compactions, which the apply path causes.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchEntry struct {
	shard ShardID
	entry raftpb.Entry
}

// benchRound builds one round of encoded commands.
func benchRound(rng *rand.Rand, workload string, round int) []benchEntry {
	out := make([]benchEntry, 0, benchRoundCmds)
	value := []byte("0123456789abcdef")
	for j := 0; len(out) < benchRoundCmds; j++ {
		s := rng.IntN(benchShards)
		var cmds []Command
		switch workload {
		case "put":
			k := fmt.Appendf(nil, "%02d/%08d", s, round*benchRoundCmds+j)
			cmds = []Command{{Ops: []Op{{Kind: OpPut, Key: k, Value: value}}}}
		case "incr":
			k := fmt.Appendf(nil, "%02d/c%04d", s, rng.IntN(4096/benchShards))
			cmds = []Command{{Ops: []Op{{Kind: OpIncr, Key: k, Value: []byte("1")}}}}
		case "cas":
			k := fmt.Appendf(nil, "%02d/%08d", s, round*benchRoundCmds+j)
			cmds = []Command{
				{Ops: []Op{{Kind: OpPut, Key: k, Value: value}}},
				{Conds: []Cond{{Key: k, Value: value, Exists: true}}, Ops: []Op{{Kind: OpPut, Key: k, Value: []byte("fedcba9876543210")}}},
			}
		}
		for _, c := range cmds {
			out = append(out, benchEntry{shard: ShardID(s + 1), entry: raftpb.Entry{Index: raftpb.Index(len(out) + 1), Data: EncodeCommand(c)}})
		}
	}
	return out[:benchRoundCmds]
}

// BenchmarkKVSyncPoint measures a sync point (which folds the applied
// records into the state keys) after each 100 apply batches recording the
// applied index of 64 shards: its cost must not grow with the number of
// records folded before (they stay in the memtable under a tombstone).
func BenchmarkKVSyncPoint(b *testing.B) {
	kv, err := OpenKV(b.TempDir(), KVOptions{CacheBytes: 64 << 20, MemTableBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer kv.Close()
	states := make([]ShardState, benchShards)
	for i := range states {
		states[i] = kvTestState(ShardID(i+1), fmt.Sprintf("%02d/", i), fmt.Sprintf("%02d/", i+1), 0)
	}
	kvSetStates(b, kv, states...)
	applied := raftpb.Index(0)
	var sync time.Duration
	for i := 0; i < b.N; i++ {
		for range 100 {
			applied++
			batch := kv.NewApplyBatch()
			for id := range ShardID(benchShards) {
				batch.(appliedRecorder).SetApplied(id+1, applied, 3)
			}
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
			batch.Close()
		}
		start := time.Now()
		if err := kv.SyncPoint(); err != nil {
			b.Fatal(err)
		}
		sync += time.Since(start)
	}
	b.ReportMetric(float64(sync.Nanoseconds())/float64(b.N), "sync-ns/op")
}
