package shard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// readSource reads one full stream from src.
func readSource(t testing.TB, src SnapshotSource) []byte {
	t.Helper()
	rc, err := src.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kvDump prints every shard's state and data, for before/after checks.
func kvDump(t testing.TB, kv *KV) string {
	t.Helper()
	states, err := kv.Load()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, st := range states {
		kvs, err := kv.Scan(st.Desc.ID, nil, nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v applied=%d/%d %v: %s\n", st.Desc, st.Applied, st.AppliedTerm, st.ConfState, kvFmtPairs(kvs))
	}
	return b.String()
}

// snapshotFixture builds a source KV with shards 1 [, m) and 2 [m, ) and
// a destination KV (another directory) whose shard 1 holds other data.
func snapshotFixture(t *testing.T, pairs int) (src, dst *KV) {
	fs := vfs.NewMem()
	src = openTestKV(t, fs, "src")
	dst = openTestKV(t, fs, "dst")
	t.Cleanup(func() { closeKV(t, src); closeKV(t, dst) })
	kvSetStates(t, src, kvTestState(1, "", "m", 0), kvTestState(2, "m", "", 0))
	kvSetStates(t, dst, kvTestState(1, "", "m", 0), kvTestState(2, "m", "", 0))
	var cmds []Command
	for i := range pairs {
		cmds = append(cmds, kvOps(kvPut(fmt.Sprintf("k%05d", i), fmt.Sprintf("value-%d", i))))
	}
	cmds = append(cmds, kvOps(kvPut("", "empty key"), kvPut("e", "")))
	kvApply(t, src, 1, cmds...)
	kvApply(t, src, 2, kvOps(kvPut("src2", "x")))
	kvApply(t, dst, 1, kvOps(kvPut("a", "stale"), kvPut("k00000", "stale"), kvPut("z", "gone")))
	kvApply(t, dst, 2, kvOps(kvPut("n", "neighbour"), kvPut("m", "edge")))
	st := kvTestState(1, "", "m", 42)
	st.Desc.Epoch = 9
	kvSetStates(t, src, st)
	return src, dst
}

func TestKVSnapshotInstall(t *testing.T) {
	// Enough pairs for several 64 KiB chunks of the stream.
	src, dst := snapshotFixture(t, 5000)
	dstShard2 := kvShardDump(t, dst, 2)
	st, source, err := src.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	if st.Applied != 42 || st.Desc.Epoch != 9 {
		t.Fatalf("snapshot state %+v", st)
	}
	// Writes after the snapshot do not show in it, even once the
	// memtables have been flushed (the view has become file-only).
	kvApply(t, src, 1, kvOps(kvPut("late", "write"), kvPut("k00001", "changed"), kvDel("k00002")))
	if err := src.db.Flush(); err != nil {
		t.Fatal(err)
	}
	want := kvShardDump(t, src, 1)
	stream := readSource(t, source)
	if again := readSource(t, source); !bytes.Equal(stream, again) {
		t.Fatal("a second Open produced a different stream")
	}
	if err := dst.Install(t.Context(), st, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	got := kvShardDump(t, dst, 1)
	if bytes.Contains([]byte(got), []byte("late")) || bytes.Contains([]byte(got), []byte("stale")) {
		t.Fatalf("installed shard holds data it should not: %.200s", got)
	}
	kvApply(t, dst, 1, kvOps(kvPut("late", "write"), kvPut("k00001", "changed"), kvDel("k00002")))
	if got := kvShardDump(t, dst, 1); got != want {
		t.Fatalf("installed shard differs:\n got %.300s\nwant %.300s", got, want)
	}
	states, err := dst.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !kvStatesEqual(states[0], st) {
		t.Fatalf("installed state %+v, want %+v", states[0], st)
	}
	if got := kvShardDump(t, dst, 2); got != dstShard2 {
		t.Fatalf("neighbour changed:\n got %s\nwant %s", got, dstShard2)
	}
}

// kvShardDump prints one shard's data.
func kvShardDump(t testing.TB, kv *KV, id ShardID) string {
	t.Helper()
	kvs, err := kv.Scan(id, nil, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return kvFmtPairs(kvs)
}

// TestKVInstallRejectsBadStreams cuts the stream at many lengths and flips
// bytes at many offsets; every damaged stream must be refused and leave
// the destination exactly as it was.
func TestKVInstallRejectsBadStreams(t *testing.T) {
	src, dst := snapshotFixture(t, 300)
	st, source, err := src.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	stream := readSource(t, source)
	before := kvDump(t, dst)
	check := func(what string, b []byte) {
		t.Helper()
		err := dst.Install(t.Context(), st, bytes.NewReader(b))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%s: got %v, want ErrBadSnapshot", what, err)
		}
		if after := kvDump(t, dst); after != before {
			t.Fatalf("%s changed the store:\n%s\nwant\n%s", what, after, before)
		}
	}
	step := max(1, len(stream)/97)
	for n := 0; n < len(stream); n += step {
		check(fmt.Sprintf("cut at %d/%d", n, len(stream)), stream[:n])
	}
	check("cut before the last byte", stream[:len(stream)-1])
	for off := 0; off < len(stream); off += step {
		bad := bytes.Clone(stream)
		bad[off] ^= 0x20
		check(fmt.Sprintf("flip at %d", off), bad)
	}
	check("trailing byte", append(bytes.Clone(stream), 0))
	other := st
	other.Applied++
	if err := dst.Install(t.Context(), other, bytes.NewReader(stream)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("mismatched state: %v", err)
	}
	// Nothing was left staged.
	if files, err := dst.fs.List(dst.ingestDir); err != nil || len(files) != 0 {
		t.Fatalf("staged files left: %v %v", files, err)
	}
}

func TestKVInstallRejectsForeignKeys(t *testing.T) {
	src, dst := snapshotFixture(t, 10)
	st, source, err := src.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	stream := readSource(t, source)
	// Shard 2's image, labelled as shard 1 with a narrower range: its key
	// "src2" is outside [, m).
	st.Desc.ID = 1
	st.Desc.Start, st.Desc.End = nil, []byte("m")
	before := kvDump(t, dst)
	if err := dst.Install(t.Context(), st, bytes.NewReader(stream)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("got %v", err)
	}
	if kvDump(t, dst) != before {
		t.Fatal("store changed")
	}
}

func TestKVSnapshotSourceClose(t *testing.T) {
	src, _ := snapshotFixture(t, 10)
	_, source, err := src.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := source.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := source.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); err == nil {
		t.Fatal("read from a closed source succeeded")
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := source.Open(); err == nil {
		t.Fatal("open of a closed source succeeded")
	}
	if err := source.Close(); err != nil {
		t.Fatal(err)
	}
	// A source left open is closed by KV.Close (the fixture's cleanup).
	if _, _, err := src.Snapshot(2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Snapshot(7); !errors.Is(err, ErrShardNotHosted) {
		t.Fatalf("snapshot of unknown shard: %v", err)
	}
}

// TestKVInstallEmptyShard installs an image with no pairs, which must
// still clear the range and record the state.
func TestKVInstallEmptyShard(t *testing.T) {
	fs := vfs.NewMem()
	src := openTestKV(t, fs, "src")
	dst := openTestKV(t, fs, "dst")
	defer closeKV(t, src)
	defer closeKV(t, dst)
	st := kvTestState(3, "a", "b", 5)
	kvSetStates(t, src, st)
	kvSetStates(t, dst, kvTestState(3, "a", "b", 1))
	kvApply(t, dst, 3, kvOps(kvPut("a1", "x")))
	got, source, err := src.Snapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	if err := dst.Install(t.Context(), got, bytes.NewReader(readSource(t, source))); err != nil {
		t.Fatal(err)
	}
	if d := kvShardDump(t, dst, 3); d != "" {
		t.Fatalf("range not cleared: %s", d)
	}
	states, _ := dst.Load()
	if len(states) != 1 || states[0].Applied != 5 {
		t.Fatalf("state %+v", states)
	}
}

// TestKVInstallSurvivesCrash checks that an install is durable when
// Install returns, without a SyncPoint: the store may then drop the log
// the snapshot replaced.
func TestKVInstallSurvivesCrash(t *testing.T) {
	src, _ := snapshotFixture(t, 100)
	st, source, err := src.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	fs := vfs.NewCrashableMem()
	dst := openTestKV(t, fs, "dst")
	kvSetStates(t, dst, kvTestState(1, "", "m", 0))
	if err := dst.SyncPoint(); err != nil {
		t.Fatal(err)
	}
	if err := dst.Install(t.Context(), st, bytes.NewReader(readSource(t, source))); err != nil {
		t.Fatal(err)
	}
	want := kvDump(t, dst)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	closeKV(t, dst)
	dst = openTestKV(t, crashed, "dst")
	defer closeKV(t, dst)
	if got := kvDump(t, dst); got != want {
		t.Fatalf("after crash:\n%s\nwant\n%s", got, want)
	}
}
