package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestCrashWithPebble crashes the WAL and a pebble store sharing one file
// system at the same instant, the way a node crashes: entries are made
// durable in the WAL, then applied to pebble without sync, with a synced
// sync point now and then. After the crash the WAL must hold every
// acknowledged entry, and pebble's applied index (a prefix, since its
// own WAL is sequential) must not exceed the WAL's last index, so a
// restarted node can replay the difference from the WAL.
func TestCrashWithPebble(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 8))
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for range rounds {
		mem := vfs.NewCrashableMem()
		w := openT(t, Options{Dir: "/node/wal", FS: mem, SegmentBytes: 16 << 10, NoPreallocate: true})
		db, err := pebble.Open("/node/db", &pebble.Options{FS: mem, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		n := 50 + r.IntN(200)
		acked := 0
		b := w.NewBatch()
		for i := 1; i <= n; i++ {
			b.Reset()
			b.Append(7, ents(i, 1, 1, 50))
			if err := w.Commit(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			acked = i
			var v [8]byte
			binary.LittleEndian.PutUint64(v[:], uint64(i))
			opt := pebble.NoSync
			if i%17 == 0 {
				opt = pebble.Sync
			}
			if err := db.Set([]byte("applied"), v[:], opt); err != nil {
				t.Fatal(err)
			}
		}
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: r.IntN(100), RNG: rand.New(rand.NewPCG(r.Uint64(), 9))})
		_ = db.Close()
		_ = w.Close()

		w2 := openT(t, Options{Dir: "/node/wal", FS: clone, SegmentBytes: 16 << 10, NoPreallocate: true})
		db2, err := pebble.Open("/node/db", &pebble.Options{FS: clone, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		last := w2.LastIndex(7)
		if int(last) != acked {
			t.Fatalf("WAL recovered last index %d, %d acknowledged", last, acked)
		}
		checkEntries(t, w2, 7, ents(1, acked, 1, 50))
		applied := raftpb.Index(0)
		v, closer, err := db2.Get([]byte("applied"))
		switch {
		case err == nil:
			applied = raftpb.Index(binary.LittleEndian.Uint64(v))
			closer.Close()
		case !errors.Is(err, pebble.ErrNotFound):
			t.Fatal(err)
		}
		if applied > last || int(applied) < acked/17*17 {
			t.Fatalf("pebble applied index %d, WAL last %d, last synced sync point %d", applied, last, acked/17*17)
		}
		db2.Close()
		w2.Close()
	}
}
