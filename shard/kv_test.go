package shard

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// openTestKV opens a KV on fs (a fresh MemFS if nil) with small buffers.
func openTestKV(t testing.TB, fs vfs.FS, dir string) *KV {
	t.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	kv, err := OpenKV(dir, KVOptions{FS: fs, CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func closeKV(t testing.TB, kv *KV) {
	t.Helper()
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
}

func kvTestState(id ShardID, start, end string, applied raftpb.Index) ShardState {
	d := Descriptor{ID: id, Replicas: []raftpb.NodeID{1, 2, 3}, Epoch: 7}
	if start != "" {
		d.Start = []byte(start)
	}
	if end != "" {
		d.End = []byte(end)
	}
	return ShardState{
		Desc: d, Applied: applied, AppliedTerm: 3,
		ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}},
	}
}

// setStates commits one batch holding the given states.
func kvSetStates(t testing.TB, kv *KV, sts ...ShardState) {
	t.Helper()
	b := kv.NewApplyBatch()
	defer b.Close()
	for _, st := range sts {
		b.SetState(st)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

// applyCmds applies cmds to shard id in one batch and returns the decoded
// results.
func kvApply(t testing.TB, kv *KV, id ShardID, cmds ...Command) []Result {
	t.Helper()
	b := kv.NewApplyBatch()
	defer b.Close()
	var out []Result
	for i, c := range cmds {
		raw := b.Apply(id, &raftpb.Entry{Index: raftpb.Index(i + 1), Data: EncodeCommand(c)})
		res, err := DecodeResult(raw)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		out = append(out, res)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

func kvPut(k, v string) Op  { return Op{Kind: OpPut, Key: []byte(k), Value: []byte(v)} }
func kvDel(k string) Op     { return Op{Kind: OpDelete, Key: []byte(k)} }
func kvIncr(k, d string) Op { return Op{Kind: OpIncr, Key: []byte(k), Value: []byte(d)} }
func kvOps(o ...Op) Command { return Command{Ops: o} }

func kvMustGet(t testing.TB, kv *KV, id ShardID, key string) (string, bool) {
	t.Helper()
	v, ok, err := kv.Get(id, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(v), ok
}

func TestKVApplyAndRead(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "m", 0), kvTestState(2, "m", "", 0))
	res := kvApply(t, kv, 1, kvOps(kvPut("a", "1"), kvPut("b", "2")), kvOps(kvPut("c", "3"), kvDel("b")))
	for i, r := range res {
		if r.Status != StatusOK {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	kvApply(t, kv, 2, kvOps(kvPut("m", "x"), kvPut("z", "y")))
	if v, ok := kvMustGet(t, kv, 1, "a"); !ok || v != "1" {
		t.Fatalf("a = %q %v", v, ok)
	}
	if _, ok := kvMustGet(t, kv, 1, "b"); ok {
		t.Fatal("b survived its delete")
	}
	kvs, err := kv.Scan(1, nil, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := kvFmtPairs(kvs); got != "a=1 c=3" {
		t.Fatalf("scan shard 1 = %s", got)
	}
	kvs, _ = kv.Scan(2, []byte("a"), nil, 1)
	if got := kvFmtPairs(kvs); got != "m=x" {
		t.Fatalf("scan shard 2 limit 1 = %s", got)
	}
	if _, err := kv.Scan(2, nil, nil, 0); !errors.Is(err, ErrBadScanLimit) {
		t.Fatalf("limit 0: %v", err)
	}
	if _, _, err := kv.Get(1, []byte("q")); !errors.Is(err, ErrKeyOutOfRange) {
		t.Fatalf("get outside range: %v", err)
	}
	if _, _, err := kv.Get(9, []byte("q")); !errors.Is(err, ErrShardNotHosted) {
		t.Fatalf("get unknown shard: %v", err)
	}
}

func kvFmtPairs(kvs []KeyValue) string {
	var b bytes.Buffer
	for i, p := range kvs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", p.Key, p.Value)
	}
	return b.String()
}

func TestKVScanClamps(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "c", 0), kvTestState(2, "c", "f", 0), kvTestState(3, "f", "", 0))
	kvApply(t, kv, 1, kvOps(kvPut("a", "1"), kvPut("b", "2")))
	kvApply(t, kv, 2, kvOps(kvPut("c", "3"), kvPut("d", "4"), kvPut("e", "5")))
	kvApply(t, kv, 3, kvOps(kvPut("f", "6"), kvPut("g", "7")))
	for _, tc := range []struct {
		start, end, want string
	}{
		{"", "", "c=3 d=4 e=5"},
		{"a", "z", "c=3 d=4 e=5"},
		{"d", "", "d=4 e=5"},
		{"", "d", "c=3"},
		{"d", "d", ""},
		{"x", "", ""},
		{"", "a", ""},
	} {
		kvs, err := kv.Scan(2, []byte(tc.start), []byte(tc.end), 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := kvFmtPairs(kvs); got != tc.want {
			t.Errorf("scan [%q, %q) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
}

func TestKVConds(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	kvApply(t, kv, 1, kvOps(kvPut("k", "v1"), kvPut("empty", "")))
	cas := func(old, new string) Command {
		return Command{Conds: []Cond{{Key: []byte("k"), Value: []byte(old), Exists: true}}, Ops: []Op{kvPut("k", new)}}
	}
	res := kvApply(t, kv, 1,
		cas("v1", "v2"),
		cas("v1", "v3"),
		Command{Conds: []Cond{{Key: []byte("absent")}}, Ops: []Op{kvPut("absent", "now")}},
		Command{Conds: []Cond{{Key: []byte("absent")}}, Ops: []Op{kvPut("absent", "again")}},
		Command{Conds: []Cond{{Key: []byte("empty"), Exists: true}, {Key: []byte("k"), Value: []byte("nope"), Exists: true}}, Ops: []Op{kvPut("x", "1")}},
		Command{Conds: []Cond{{Key: []byte("gone"), Value: []byte(""), Exists: true}}, Ops: []Op{kvPut("x", "1")}},
	)
	want := []Result{
		{Status: StatusOK},
		{Status: StatusCondFailed, FailedCond: 0, Current: []byte("v2"), CurrentExists: true},
		{Status: StatusOK},
		{Status: StatusCondFailed, FailedCond: 0, Current: []byte("now"), CurrentExists: true},
		{Status: StatusCondFailed, FailedCond: 1, Current: []byte("v2"), CurrentExists: true},
		{Status: StatusCondFailed, FailedCond: 0},
	}
	for i := range want {
		if !kvResultsEqual(res[i], want[i]) {
			t.Errorf("command %d: got %+v, want %+v", i, res[i], want[i])
		}
	}
	if v, _ := kvMustGet(t, kv, 1, "k"); v != "v2" {
		t.Fatalf("k = %q", v)
	}
	if _, ok := kvMustGet(t, kv, 1, "x"); ok {
		t.Fatal("a failed command wrote x")
	}
}

func TestKVIncr(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	kvApply(t, kv, 1, kvOps(kvPut("s", "abc"), kvPut("max", "9223372036854775806"), kvPut("lead0", "07"), kvPut("min", "-9223372036854775808")))
	for _, tc := range []struct {
		op     Op
		status Status
		value  string
	}{
		{kvIncr("n", "5"), StatusOK, "5"},
		{kvIncr("n", "-12"), StatusOK, "-7"},
		{kvIncr("n", "+1"), StatusNotInteger, ""},
		{kvIncr("n", "1.5"), StatusNotInteger, ""},
		{kvIncr("n", ""), StatusNotInteger, ""},
		{kvIncr("n", "-0"), StatusNotInteger, ""},
		{kvIncr("s", "1"), StatusNotInteger, ""},
		{kvIncr("lead0", "1"), StatusNotInteger, ""},
		{kvIncr("max", "1"), StatusOK, "9223372036854775807"},
		{kvIncr("max", "1"), StatusOverflow, ""},
		{kvIncr("min", "-1"), StatusOverflow, ""},
		{kvIncr("min", "9223372036854775807"), StatusOK, "-1"},
		{kvIncr("n", "99999999999999999999"), StatusNotInteger, ""},
	} {
		res := kvApply(t, kv, 1, kvOps(tc.op))[0]
		if res.Status != tc.status {
			t.Errorf("%s += %s: status %d, want %d", tc.op.Key, tc.op.Value, res.Status, tc.status)
			continue
		}
		if tc.status == StatusOK && (len(res.Values) != 1 || string(res.Values[0]) != tc.value) {
			t.Errorf("%s += %s: values %q, want %q", tc.op.Key, tc.op.Value, res.Values, tc.value)
		}
	}
	// Two increments of one key in one command see each other; a put
	// beside them has a nil value.
	res := kvApply(t, kv, 1, kvOps(kvIncr("c", "2"), kvPut("p", "q"), kvIncr("c", "3")))[0]
	if res.Status != StatusOK || string(res.Values[0]) != "2" || res.Values[1] != nil || string(res.Values[2]) != "5" {
		t.Fatalf("double incr: %+v", res)
	}
	// A failing increment after writes leaves nothing behind.
	res = kvApply(t, kv, 1, kvOps(kvPut("w", "1"), kvIncr("c", "1"), kvIncr("s", "1")))[0]
	if res.Status != StatusNotInteger {
		t.Fatalf("status %d", res.Status)
	}
	if _, ok := kvMustGet(t, kv, 1, "w"); ok {
		t.Fatal("failed command wrote w")
	}
	if v, _ := kvMustGet(t, kv, 1, "c"); v != "5" {
		t.Fatalf("c = %q after a failed command", v)
	}
}

func TestKVReturnPrev(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	kvApply(t, kv, 1, kvOps(kvPut("a", "old"), kvPut("e", "")))
	cmd := Command{Ops: []Op{kvPut("a", "new"), kvPut("a", "newer"), kvPut("b", "x"), kvDel("e")}, ReturnPrev: true}
	res := kvApply(t, kv, 1, cmd)[0]
	want := Result{Prev: [][]byte{[]byte("old"), []byte("old"), nil, {}}, PrevExists: []bool{true, true, false, true}}
	if !kvResultsEqual(res, want) {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	if v, _ := kvMustGet(t, kv, 1, "a"); v != "newer" {
		t.Fatalf("a = %q", v)
	}
}

func TestKVRejectsKeysOutsideRange(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "b", "d", 0))
	res := kvApply(t, kv, 1,
		kvOps(kvPut("b", "1"), kvPut("d", "2")),
		Command{Conds: []Cond{{Key: []byte("a")}}, Ops: []Op{kvPut("c", "3")}},
		kvOps(kvPut("c", "4"), kvIncr("a", "1")),
		kvOps(kvPut("c", "5")),
	)
	for i, want := range []Status{StatusWrongShard, StatusWrongShard, StatusWrongShard, StatusOK} {
		if res[i].Status != want {
			t.Errorf("command %d: status %d, want %d", i, res[i].Status, want)
		}
	}
	kvs, _ := kv.Scan(1, nil, nil, 10)
	if got := kvFmtPairs(kvs); got != "c=5" {
		t.Fatalf("shard holds %s", got)
	}
}

func TestKVMalformedEntries(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	b := kv.NewApplyBatch()
	defer b.Close()
	if r := b.Apply(1, &raftpb.Entry{Index: 1}); r != nil {
		t.Fatalf("empty entry: %x", r)
	}
	if r := b.Apply(1, &raftpb.Entry{Index: 2, Type: raftpb.EntryConfChange, Data: []byte{1}}); r != nil {
		t.Fatalf("conf change: %x", r)
	}
	res, err := DecodeResult(b.Apply(1, &raftpb.Entry{Index: 3, Data: []byte{9, 9, 9}}))
	if err != nil || res.Status != StatusBadCommand {
		t.Fatalf("garbage: %+v %v", res, err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	// A shard the KV does not host is the store's bug: the batch fails.
	b2 := kv.NewApplyBatch()
	defer b2.Close()
	b2.Apply(5, &raftpb.Entry{Index: 1, Data: EncodeCommand(kvOps(kvPut("a", "b")))})
	if err := b2.Commit(); !errors.Is(err, ErrShardNotHosted) {
		t.Fatalf("commit after apply to unknown shard: %v", err)
	}
}

// TestKVBatchSeesOwnWrites checks, in both view modes, that a command sees
// the writes of earlier commands in the same round's batch and readers do
// not see them before Commit.
func TestKVBatchSeesOwnWrites(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) {
			kv := openTestKV(t, nil, "kv")
			defer closeKV(t, kv)
			kv.indexedApply = indexed
			kvSetStates(t, kv, kvTestState(1, "", "", 0))
			b := kv.NewApplyBatch()
			defer b.Close()
			cmds := []Command{
				kvOps(kvPut("k", "1")),
				{Conds: []Cond{{Key: []byte("k"), Value: []byte("1"), Exists: true}}, Ops: []Op{kvIncr("k", "1")}},
				kvOps(kvDel("k")),
				{Conds: []Cond{{Key: []byte("k")}}, Ops: []Op{kvIncr("k", "10")}},
			}
			for i, c := range cmds {
				res, err := DecodeResult(b.Apply(1, &raftpb.Entry{Index: raftpb.Index(i + 1), Data: EncodeCommand(c)}))
				if err != nil || res.Status != StatusOK {
					t.Fatalf("command %d: %+v %v", i, res, err)
				}
			}
			if _, ok := kvMustGet(t, kv, 1, "k"); ok {
				t.Fatal("uncommitted write visible")
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if v, _ := kvMustGet(t, kv, 1, "k"); v != "10" {
				t.Fatalf("k = %q", v)
			}
		})
	}
}

func TestKVLoadAfterReopen(t *testing.T) {
	fs := vfs.NewMem()
	kv := openTestKV(t, fs, "node")
	a, b := kvTestState(1, "", "k", 10), kvTestState(2, "k", "", 20)
	b.ConfState = raftpb.ConfState{Voters: []raftpb.NodeID{4, 5}, VotersOutgoing: []raftpb.NodeID{4, 6}, LearnersNext: []raftpb.NodeID{6}, AutoLeave: true}
	kvSetStates(t, kv, a, b)
	kvApply(t, kv, 2, kvOps(kvPut("x", "1")))
	a.Applied = 11
	kvSetStates(t, kv, a)
	if err := kv.SyncPoint(); err != nil {
		t.Fatal(err)
	}
	closeKV(t, kv)

	kv = openTestKV(t, fs, "node")
	defer closeKV(t, kv)
	if _, _, err := kv.Get(2, []byte("x")); !errors.Is(err, ErrShardNotHosted) {
		t.Fatalf("before Load: %v", err)
	}
	got, err := kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !kvStatesEqual(got[0], a) || !kvStatesEqual(got[1], b) {
		t.Fatalf("Load = %+v, want %+v and %+v", got, a, b)
	}
	if v, _ := kvMustGet(t, kv, 2, "x"); v != "1" {
		t.Fatalf("x = %q", v)
	}
}

func TestKVDeleteShard(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "m", 5), kvTestState(2, "m", "", 6))
	kvApply(t, kv, 1, kvOps(kvPut("a", "1")))
	kvApply(t, kv, 2, kvOps(kvPut("n", "2")))
	if err := kv.DeleteShard(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Get(1, []byte("a")); !errors.Is(err, ErrShardNotHosted) {
		t.Fatalf("get from deleted shard: %v", err)
	}
	states, err := kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Desc.ID != 2 {
		t.Fatalf("Load after delete: %+v", states)
	}
	// Re-creating the shard finds its range empty.
	kvSetStates(t, kv, kvTestState(1, "", "m", 0))
	if kvs, _ := kv.Scan(1, nil, nil, 10); len(kvs) != 0 {
		t.Fatalf("deleted data came back: %s", kvFmtPairs(kvs))
	}
	if v, _ := kvMustGet(t, kv, 2, "n"); v != "2" {
		t.Fatalf("neighbour lost n: %q", v)
	}
}

func TestKVOptions(t *testing.T) {
	o := (&KVOptions{}).EnsureDefaults()
	if o.CacheBytes != DefaultKVCacheBytes || o.MemTableBytes != DefaultKVMemTableBytes || o.FS == nil || o.Logger == nil {
		t.Fatalf("defaults: %v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []KVOptions{{CacheBytes: -1}, {MemTableBytes: 1}} {
		if _, err := OpenKV("x", bad); !errors.Is(err, ErrInvalidKVOptions) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	kv := openTestKV(t, nil, "kv")
	closeKV(t, kv)
	if err := kv.Close(); !errors.Is(err, ErrKVClosed) {
		t.Fatalf("second close: %v", err)
	}
	if _, _, err := kv.Snapshot(1); !errors.Is(err, ErrKVClosed) {
		t.Fatalf("snapshot after close: %v", err)
	}
}

// resultsEqual compares results treating nil and empty byte slices alike
// except where the distinction carries meaning (nil Values entries).
func kvResultsEqual(a, b Result) bool {
	if a.Status != b.Status || a.FailedCond != b.FailedCond || a.CurrentExists != b.CurrentExists || !bytes.Equal(a.Current, b.Current) {
		return false
	}
	if len(a.Values) != len(b.Values) || len(a.Prev) != len(b.Prev) || len(a.PrevExists) != len(b.PrevExists) {
		return false
	}
	for i := range a.Values {
		if (a.Values[i] == nil) != (b.Values[i] == nil) || !bytes.Equal(a.Values[i], b.Values[i]) {
			return false
		}
	}
	for i := range a.Prev {
		if a.PrevExists[i] != b.PrevExists[i] || !bytes.Equal(a.Prev[i], b.Prev[i]) {
			return false
		}
	}
	return true
}

func kvStatesEqual(a, b ShardState) bool {
	return bytes.Equal(MarshalShardState(a), MarshalShardState(b))
}

// kvSetApplied commits one batch that records applied indexes only (term
// 4), as the store does when nothing else in a shard's state changed.
func kvSetApplied(t testing.TB, kv *KV, applied map[ShardID]raftpb.Index) {
	t.Helper()
	b := kv.NewApplyBatch()
	defer b.Close()
	for id, a := range applied {
		b.(appliedRecorder).SetApplied(id, a, 4)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestKVAppliedRecords checks that applied indexes written as applied
// records (not whole state keys) are what Snapshot and Load report, before
// and after a fold and a reopen, and that a deleted shard created again
// does not inherit its old applied index.
func TestKVAppliedRecords(t *testing.T) {
	fs := vfs.NewMem()
	kv := openTestKV(t, fs, "node")
	a, b := kvTestState(1, "", "k", 10), kvTestState(2, "k", "", 20)
	kvSetStates(t, kv, a, b)
	kvSetApplied(t, kv, map[ShardID]raftpb.Index{1: 11, 2: 21})
	kvSetApplied(t, kv, map[ShardID]raftpb.Index{2: 22})
	a.Applied, a.AppliedTerm = 11, 4
	b.Applied, b.AppliedTerm = 22, 4
	st, src, err := kv.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if !kvStatesEqual(st, b) {
		t.Fatalf("Snapshot before fold = %+v, want %+v", st, b)
	}

	// Reopen without a sync point: the records are replayed from pebble's
	// log and Load folds them.
	closeKV(t, kv)
	kv = openTestKV(t, fs, "node")
	got, err := kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !kvStatesEqual(got[0], a) || !kvStatesEqual(got[1], b) {
		t.Fatalf("Load = %+v, want %+v and %+v", got, a, b)
	}

	// A record written after the reopen gets a sequence number of its
	// own; a fold (sync point) keeps the largest index.
	kvSetApplied(t, kv, map[ShardID]raftpb.Index{1: 12})
	if err := kv.SyncPoint(); err != nil {
		t.Fatal(err)
	}
	kvSetApplied(t, kv, map[ShardID]raftpb.Index{1: 13})
	a.Applied = 13
	st, src, err = kv.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if !kvStatesEqual(st, a) {
		t.Fatalf("Snapshot after fold = %+v, want %+v", st, a)
	}

	// Deleting shard 1 and creating it again starts from its new state.
	if err := kv.DeleteShard(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	fresh := kvTestState(1, "", "k", 2)
	kvSetStates(t, kv, fresh)
	closeKV(t, kv)
	kv = openTestKV(t, fs, "node")
	defer closeKV(t, kv)
	got, err = kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !kvStatesEqual(got[0], fresh) || !kvStatesEqual(got[1], b) {
		t.Fatalf("Load after delete = %+v, want %+v and %+v", got, fresh, b)
	}
}
