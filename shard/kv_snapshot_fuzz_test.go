package shard

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FuzzKVInstall feeds arbitrary streams to Install. It must never panic;
// a refused stream must fail with ErrBadSnapshot and leave the store as it
// was; an accepted one must leave the shard with the given state and keys
// inside its range.
func FuzzKVInstall(f *testing.F) {
	fs := vfs.NewMem()
	src := openTestKV(f, fs, "src")
	dst := openTestKV(f, fs, "dst")
	f.Cleanup(func() { closeKV(f, src); closeKV(f, dst) })
	st := kvTestState(1, "b", "y", 0)
	kvSetStates(f, src, st)
	kvSetStates(f, dst, st, kvTestState(2, "y", "", 0))
	kvApply(f, src, 1, kvOps(kvPut("b", ""), kvPut("c", "cc"), kvPut("x\xff", "last")))
	kvApply(f, dst, 2, kvOps(kvPut("z", "neighbour")))
	st, source, err := src.Snapshot(1)
	if err != nil {
		f.Fatal(err)
	}
	defer source.Close()
	stream := readSource(f, source)
	f.Add(stream)
	f.Add(stream[:len(stream)/2])
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := kvDump(t, dst)
		err := dst.Install(t.Context(), st, bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("error %v does not wrap ErrBadSnapshot", err)
			}
			if after := kvDump(t, dst); after != before {
				t.Fatalf("refused stream changed the store:\n%s\nwas\n%s", after, before)
			}
			return
		}
		states, err := dst.Load()
		if err != nil || len(states) != 2 || !kvStatesEqual(states[0], st) {
			t.Fatalf("after install: %+v %v", states, err)
		}
		kvs, err := dst.Scan(2, nil, nil, 10)
		if err != nil || kvFmtPairs(kvs) != "z=neighbour" {
			t.Fatalf("neighbour: %s %v", kvFmtPairs(kvs), err)
		}
	})
}
