// Package vfs holds a fault-injecting wrapper around pebble's file-system
// interface (github.com/cockroachdb/pebble/v2/vfs), so that tests can fail,
// delay or tear any write and any sync of any file, and crash a node's WAL
// and its pebble store at the same instant.
//
// The WAL and pebble both take a vfs.FS through their Options. Tests build
// a vfs.NewCrashableMem, wrap it in a [FaultFS], and after a simulated crash
// reopen on MemFS.CrashClone: only synced data survives (or, with a tear,
// the part of the last write the injector chose to keep).
//
// Concurrency: a FaultFS and its files are safe for concurrent use as far
// as the wrapped FS is; the [Injector] is called from whichever goroutine
// performs the operation and must be safe for concurrent use.
//
// This package must never be used outside tests and benchmarks to change
// data; with a nil Injector it only forwards calls.
package vfs
