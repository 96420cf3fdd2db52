package shard

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	fvfs "github.com/flotilladb/flotilla/internal/vfs"
)

// TestWALGuardFailsStopOnPebbleWALSync: a failed sync or close of a
// pebble WAL file (NNNNNN.log) calls fatal with a message naming the
// operation, the file and the error; a failed sync of any other file
// (a staged snapshot table) is only returned.
func TestWALGuardFailsStopOnPebbleWALSync(t *testing.T) {
	failing := map[fvfs.OpKind]bool{}
	faults := fvfs.Wrap(vfs.NewMem(), func(op fvfs.Op) fvfs.Action {
		if failing[op.Kind] {
			return fvfs.Action{Err: fvfs.ErrInjected}
		}
		return fvfs.Action{}
	})
	var fatals []string
	fs := &walGuardFS{FS: faults, fatal: func(msg string) { fatals = append(fatals, msg) }}

	open := func(name string, reuse bool) vfs.File {
		t.Helper()
		var f vfs.File
		var err error
		if reuse {
			f, err = fs.ReuseForWrite("000001.log", name, vfs.WriteCategoryUnspecified)
		} else {
			f, err = fs.Create(name, vfs.WriteCategoryUnspecified)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("record")); err != nil {
			t.Fatal(err)
		}
		return f
	}
	wal := open("000001.log", false)
	table := open("ingest-1.sst", false)
	failing[fvfs.OpSync] = true
	if err := table.Sync(); !errors.Is(err, fvfs.ErrInjected) || len(fatals) != 0 {
		t.Fatalf("table sync: err %v, fatals %q; want the injected error and no fatal", err, fatals)
	}
	for _, sync := range []func() error{wal.Sync, wal.SyncData, func() error { _, err := wal.SyncTo(6); return err }} {
		if err := sync(); !errors.Is(err, fvfs.ErrInjected) {
			t.Fatalf("WAL sync: err %v, want the injected error", err)
		}
	}
	if len(fatals) != 3 || !strings.Contains(fatals[0], "sync of pebble's write-ahead log 000001.log failed") ||
		!strings.Contains(fatals[0], fvfs.ErrInjected.Error()) {
		t.Fatalf("fatals %q: want three naming the WAL file and the error", fatals)
	}
	failing[fvfs.OpSync] = false
	if err := wal.Close(); err != nil {
		t.Fatal(err)
	}
	reused := open("000002.log", true) // pebble recycles old logs this way
	failing[fvfs.OpSync] = true
	if err := reused.SyncData(); !errors.Is(err, fvfs.ErrInjected) || len(fatals) != 4 ||
		!strings.Contains(fatals[3], "000002.log") {
		t.Fatalf("reused WAL sync: err %v, fatals %q", err, fatals)
	}
	failing[fvfs.OpSync] = false
	closing := &walGuardFile{File: closeFails{reused}, name: "000002.log", fatal: fs.fatal}
	if err := closing.Close(); !errors.Is(err, fvfs.ErrInjected) || len(fatals) != 5 ||
		!strings.Contains(fatals[4], "close of pebble's write-ahead log 000002.log failed") {
		t.Fatalf("WAL close: err %v, fatals %q", err, fatals)
	}
	if _, ok := (&KVOptions{}).EnsureDefaults().pebbleOptions(nil).FS.(*walGuardFS); !ok {
		t.Fatal("pebble's options do not go through walGuardFS")
	}
}

// closeFails is a file whose Close fails (internal/vfs injects no close
// faults).
type closeFails struct{ vfs.File }

func (f closeFails) Close() error { return errors.Join(f.File.Close(), fvfs.ErrInjected) }
