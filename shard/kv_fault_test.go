package shard

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	fvfs "github.com/flotilladb/flotilla/internal/vfs"
)

// TestKVInstallStagingFaults fails, in turn, each file operation Install
// makes while staging a snapshot (creating, writing and syncing the
// staged tables) and checks that the install fails with the injected
// error, changes nothing, and leaves no staged file behind; then lets one
// through.
func TestKVInstallStagingFaults(t *testing.T) {
	src := openTestKV(t, nil, "src")
	defer closeKV(t, src)
	kvSetStates(t, src, kvTestState(1, "", "m", 0))
	var cmds []Command
	for i := range 3000 {
		cmds = append(cmds, kvOps(kvPut(strings.Repeat("k", 1+i%7)+string(rune('a'+i%26))+string(rune(i)), strings.Repeat("v", 100))))
	}
	kvApply(t, src, 1, cmds...)
	st, source, err := src.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	stream := readSource(t, source)

	// failAt counts down the staging operations; the one that brings it
	// to zero fails.
	var failAt atomic.Int64
	inject := func(op fvfs.Op) fvfs.Action {
		if !strings.Contains(op.Path, "ingest") {
			return fvfs.Action{}
		}
		if failAt.Add(-1) == 0 {
			return fvfs.Action{Err: fvfs.ErrInjected}
		}
		return fvfs.Action{}
	}
	mem := vfs.NewMem()
	dst := openTestKV(t, fvfs.Wrap(mem, inject), "dst")
	defer closeKV(t, dst)
	kvSetStates(t, dst, kvTestState(1, "", "m", 0), kvTestState(2, "m", "", 0))
	kvApply(t, dst, 1, kvOps(kvPut("a", "old")))
	kvApply(t, dst, 2, kvOps(kvPut("n", "neighbour")))
	before := kvDump(t, dst)
	n := int64(1)
	for ; ; n++ {
		failAt.Store(n)
		err := dst.Install(t.Context(), st, bytes.NewReader(stream))
		if err == nil {
			if n == 1 {
				t.Fatal("no staging operation was failed")
			}
			break
		}
		if !errors.Is(err, fvfs.ErrInjected) {
			t.Fatalf("operation %d: got %v, want the injected error", n, err)
		}
		if after := kvDump(t, dst); after != before {
			t.Fatalf("operation %d: failed install changed the store", n)
		}
		if files, _ := mem.List("dst/ingest"); len(files) != 0 {
			t.Fatalf("operation %d: staged files left: %v", n, files)
		}
	}
	failAt.Store(0)
	t.Logf("failed each of %d staging operations in turn", n-1)
	if got, want := kvShardDump(t, dst, 1), kvShardDump(t, src, 1); got != want {
		t.Fatal("installed shard differs from its source")
	}
}
