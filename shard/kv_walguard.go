package shard

import (
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walGuardFS wraps pebble's file system so that a failed sync or close of
// pebble's own write-ahead log stops the process at once with a message
// naming the file and the error (fail-stop, "Durability and apply" in
// DESIGN.md).
//
// Why here and not in pebble's Fatalf: pebble's commit pipeline calls
// Fatalf when a WAL sync fails, but when closing the previous log fails
// during a log rotation (DB.rotateWAL) pebble panics instead, and that
// panic unwinds into a fatal "unlock of unlocked mutex" that prints no
// error at all (seen in chaos.TestDiskFaults). Either way the node must
// stop; this makes it stop the same way, saying why, whatever pebble
// would have done next.
//
// Only the WAL: a failed sync of a staged snapshot table is an ordinary
// error (the install fails and changes nothing), and pebble fails its
// flushes and compactions through the event listener (pebbleOptions).
//
// NB: used by pointer: pebble compares file systems with == (ingestion
// links a file when the source FS is its own), and a struct holding a func
// is not comparable.
type walGuardFS struct {
	vfs.FS
	fatal func(msg string)
}

func (fs *walGuardFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.guard(name, f, err)
}

func (fs *walGuardFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.guard(newname, f, err)
}

func (fs *walGuardFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.guard(name, f, err)
}

// guard wraps f if it is a pebble WAL file (NNNNNN.log).
func (fs *walGuardFS) guard(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || filepath.Ext(name) != ".log" {
		return f, err
	}
	return &walGuardFile{File: f, name: name, fatal: fs.fatal}, nil
}

// walGuardFile is a pebble WAL file whose failed sync or close is fatal.
type walGuardFile struct {
	vfs.File
	name  string
	fatal func(msg string)
}

func (f *walGuardFile) Sync() error     { return f.check("sync", f.File.Sync()) }
func (f *walGuardFile) SyncData() error { return f.check("sync", f.File.SyncData()) }
func (f *walGuardFile) Close() error    { return f.check("close", f.File.Close()) }

func (f *walGuardFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.check("sync", err)
}

// check calls fatal if err is set; fatal does not return in a node (it
// may in tests), and then err goes back to pebble.
func (f *walGuardFile) check(op string, err error) error {
	if err != nil {
		f.fatal(fmt.Sprintf("%s of pebble's write-ahead log %s failed: %v", op, f.name, err))
	}
	return err
}
