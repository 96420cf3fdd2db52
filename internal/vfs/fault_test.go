package vfs

import (
	"errors"
	"testing"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"
)

func TestFaultFS(t *testing.T) {
	mem := pvfs.NewCrashableMem()
	var seen []Op
	fs := Wrap(mem, func(op Op) Action {
		seen = append(seen, op)
		switch {
		case op.Kind == OpWrite && op.Seq == 2:
			return Action{Err: ErrInjected, TearBytes: 3}
		case op.Kind == OpSync && op.Seq == 4:
			return Action{Delay: time.Millisecond, Crash: true}
		}
		return Action{}
	})
	f, err := fs.Create("/a", pvfs.WriteCategoryUnspecified) // op 0
	if err != nil {
		t.Fatal(err)
	}
	d, err := mem.OpenDir("/") // not through fs: not counted
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := f.Write([]byte("hello")); err != nil { // op 1
		t.Fatal(err)
	}
	n, err := f.Write([]byte("world")) // op 2: torn after 3 bytes
	if !errors.Is(err, ErrInjected) || n != 3 {
		t.Fatalf("torn write: %d, %v", n, err)
	}
	if err := f.Sync(); err != nil { // op 3
		t.Fatal(err)
	}
	if err := f.SyncData(); !errors.Is(err, ErrCrashed) { // op 4: crash
		t.Fatalf("crashing sync: %v", err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrCrashed) || !fs.Crashed() {
		t.Fatalf("write after crash: %v", err)
	}
	if fs.Ops() != 5 || len(seen) != 5 || seen[2].Len != 5 || seen[2].Path != "/a" {
		t.Fatalf("ops %d, seen %+v", fs.Ops(), seen)
	}
	// The torn bytes reached the file and were synced before the crash.
	clone := mem.CrashClone(pvfs.CrashCloneCfg{})
	g, err := clone.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	buf := make([]byte, 16)
	k, _ := g.ReadAt(buf, 0)
	if string(buf[:k]) != "hellowor" {
		t.Fatalf("file holds %q", buf[:k])
	}
}
