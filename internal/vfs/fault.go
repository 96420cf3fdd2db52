package vfs

import (
	"errors"
	"sync"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"
)

// ErrInjected is the error an injected fault returns unless the injector
// supplies its own.
var ErrInjected = errors.New("vfs: injected fault")

// ErrCrashed is returned by every mutating operation after [FaultFS.Crash]:
// the simulated process is gone and must not write anything more.
var ErrCrashed = errors.New("vfs: file system crashed")

// OpKind names the operation an [Injector] is asked about.
type OpKind uint8

const (
	// OpWrite is a Write or WriteAt on a file.
	OpWrite OpKind = iota + 1
	// OpSync is a Sync, SyncData or SyncTo on a file or directory.
	OpSync
	// OpCreate is a Create, OpenReadWrite, Rename, Remove or ReuseForWrite.
	OpCreate
)

func (k OpKind) String() string {
	switch k {
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpCreate:
		return "create"
	}
	return "op?"
}

// Op describes one mutating operation.
type Op struct {
	Kind OpKind
	// Path is the file's name (for a rename, the new name).
	Path string
	// Offset and Len describe a write; Offset is -1 for a sequential Write.
	Offset int64
	Len    int
	// Seq numbers the mutating operations of this FaultFS from 0.
	Seq uint64
}

// Action is what an [Injector] wants done with an operation. The zero
// Action lets it proceed.
type Action struct {
	// Delay is slept before the operation runs.
	Delay time.Duration
	// Err, if set, fails the operation with Err (after a tear, if any).
	Err error
	// TearBytes, for a write with Err set or Crash set, writes only the
	// first TearBytes bytes before failing; 0 writes nothing.
	TearBytes int
	// Crash makes the FaultFS crash at this operation: the operation fails
	// (after writing TearBytes of a write) and so does every later one.
	Crash bool
}

// Injector decides the fate of each mutating operation.
type Injector func(Op) Action

// FaultFS wraps a pvfs.FS and consults an [Injector] before every write,
// sync and namespace change. It is safe for concurrent use.
type FaultFS struct {
	pvfs.FS
	inject Injector

	mu struct {
		sync.Mutex
		seq     uint64
		crashed bool
	}
}

// Wrap returns fs wrapped with inject (which may be nil).
func Wrap(fs pvfs.FS, inject Injector) *FaultFS {
	return &FaultFS{FS: fs, inject: inject}
}

// Crash makes every later mutating operation fail with [ErrCrashed].
func (f *FaultFS) Crash() {
	f.mu.Lock()
	f.mu.crashed = true
	f.mu.Unlock()
}

// Crashed reports whether the FaultFS has crashed.
func (f *FaultFS) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.crashed
}

// Ops returns how many mutating operations have been attempted.
func (f *FaultFS) Ops() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.seq
}

// decide numbers op, asks the injector and applies crash state. It returns
// the action to carry out; a non-nil error means "fail without running".
func (f *FaultFS) decide(op Op) (Action, error) {
	f.mu.Lock()
	if f.mu.crashed {
		f.mu.Unlock()
		return Action{}, ErrCrashed
	}
	op.Seq = f.mu.seq
	f.mu.seq++
	f.mu.Unlock()
	if f.inject == nil {
		return Action{}, nil
	}
	a := f.inject(op)
	if a.Delay > 0 {
		time.Sleep(a.Delay)
	}
	if a.Crash {
		f.Crash()
		if a.Err == nil {
			a.Err = ErrCrashed
		}
	}
	return a, nil
}

// simple runs a non-write operation through the injector.
func (f *FaultFS) simple(kind OpKind, path string, run func() error) error {
	a, err := f.decide(Op{Kind: kind, Path: path, Offset: -1})
	if err != nil {
		return err
	}
	if a.Err != nil {
		return a.Err
	}
	return run()
}

// Create implements pvfs.FS.
func (f *FaultFS) Create(name string, c pvfs.DiskWriteCategory) (pvfs.File, error) {
	var file pvfs.File
	err := f.simple(OpCreate, name, func() (err error) {
		file, err = f.FS.Create(name, c)
		return err
	})
	return f.wrapFile(name, file), err
}

// OpenReadWrite implements pvfs.FS.
func (f *FaultFS) OpenReadWrite(name string, c pvfs.DiskWriteCategory, opts ...pvfs.OpenOption) (pvfs.File, error) {
	var file pvfs.File
	err := f.simple(OpCreate, name, func() (err error) {
		file, err = f.FS.OpenReadWrite(name, c, opts...)
		return err
	})
	return f.wrapFile(name, file), err
}

// Open implements pvfs.FS; reads are never faulted, but the file's
// mutating methods are.
func (f *FaultFS) Open(name string, opts ...pvfs.OpenOption) (pvfs.File, error) {
	file, err := f.FS.Open(name, opts...)
	return f.wrapFile(name, file), err
}

// OpenDir implements pvfs.FS; a directory's Sync is faulted like a file's.
func (f *FaultFS) OpenDir(name string) (pvfs.File, error) {
	file, err := f.FS.OpenDir(name)
	return f.wrapFile(name, file), err
}

// Rename implements pvfs.FS.
func (f *FaultFS) Rename(oldname, newname string) error {
	return f.simple(OpCreate, newname, func() error { return f.FS.Rename(oldname, newname) })
}

// Remove implements pvfs.FS.
func (f *FaultFS) Remove(name string) error {
	return f.simple(OpCreate, name, func() error { return f.FS.Remove(name) })
}

// ReuseForWrite implements pvfs.FS.
func (f *FaultFS) ReuseForWrite(oldname, newname string, c pvfs.DiskWriteCategory) (pvfs.File, error) {
	var file pvfs.File
	err := f.simple(OpCreate, newname, func() (err error) {
		file, err = f.FS.ReuseForWrite(oldname, newname, c)
		return err
	})
	return f.wrapFile(newname, file), err
}

// Unwrap implements pvfs.FS.
func (f *FaultFS) Unwrap() pvfs.FS { return f.FS }

func (f *FaultFS) wrapFile(name string, file pvfs.File) pvfs.File {
	if file == nil {
		return nil
	}
	return &faultFile{File: file, fs: f, name: name}
}

// faultFile faults the writes and syncs of one open file.
type faultFile struct {
	pvfs.File
	fs   *FaultFS
	name string
}

func (f *faultFile) write(p []byte, off int64, run func([]byte) (int, error)) (int, error) {
	a, err := f.fs.decide(Op{Kind: OpWrite, Path: f.name, Offset: off, Len: len(p)})
	if err != nil {
		return 0, err
	}
	if a.Err == nil {
		return run(p)
	}
	n := 0
	if a.TearBytes > 0 {
		n, _ = run(p[:min(a.TearBytes, len(p))])
	}
	return n, a.Err
}

func (f *faultFile) Write(p []byte) (int, error) {
	return f.write(p, -1, f.File.Write)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, off, func(b []byte) (int, error) { return f.File.WriteAt(b, off) })
}

func (f *faultFile) Sync() error {
	return f.fs.simple(OpSync, f.name, f.File.Sync)
}

func (f *faultFile) SyncData() error {
	return f.fs.simple(OpSync, f.name, f.File.SyncData)
}

func (f *faultFile) SyncTo(length int64) (bool, error) {
	full := false
	err := f.fs.simple(OpSync, f.name, func() (err error) {
		full, err = f.File.SyncTo(length)
		return err
	})
	return full, err
}

func (f *faultFile) Preallocate(off, length int64) error {
	return f.fs.simple(OpCreate, f.name, func() error { return f.File.Preallocate(off, length) })
}
