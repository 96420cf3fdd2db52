package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// FuzzDecodeSegment feeds arbitrary bytes to the segment scanner and the
// replay of every batch it accepts (payload decoding, decompression, index
// updates). It must never panic; it returns either a valid prefix or a
// *CorruptionError, and rescanning the valid prefix gives the same
// batches without error.
//
// The seed corpus in testdata/fuzz/FuzzDecodeSegment holds real segments
// (plain, compressed, with compactions and removals, torn); regenerate it
// with WAL_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./wal.
func FuzzDecodeSegment(f *testing.F) {
	f.Add([]byte{}, uint32(1))
	f.Add(make([]byte, 64), uint32(1))
	f.Fuzz(func(t *testing.T, data []byte, num uint32) {
		rp := replayer{groups: map[raftpb.GroupID]*group{}}
		var seqs []uint64
		res, err := scanSegment(num, data, 0, false, func(recs []rawRec, seq uint64) error {
			seqs = append(seqs, seq)
			return rp.replay(num, recs)
		})
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a CorruptionError", err)
			}
			return
		}
		if res.end > len(data) || res.batches != len(seqs) {
			t.Fatalf("end %d of %d, %d batches vs %d", res.end, len(data), res.batches, len(seqs))
		}
		var again int
		_, err = scanSegment(num, data[:res.end], 0, false, func([]rawRec, uint64) error { again++; return nil })
		if err != nil || again != len(seqs) {
			t.Fatalf("rescanning the valid prefix: %v, %d batches, want %d", err, again, len(seqs))
		}
		for _, g := range rp.groups {
			if g.exists && g.compact > g.last {
				t.Fatalf("group %d: compaction point %d beyond last %d", g.id, g.compact, g.last)
			}
		}
	})
}

// TestWriteFuzzCorpus writes real segments as the fuzz seed corpus. It
// runs only with WAL_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("WAL_WRITE_CORPUS") == "" {
		t.Skip("set WAL_WRITE_CORPUS=1 to regenerate testdata/fuzz/FuzzDecodeSegment")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeSegment")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, fill := range []func(b *Batch){
		func(b *Batch) {
			b.Append(1, ents(1, 3, 1, 20))
			b.SetHardState(1, raftpb.HardState{Term: 1, Vote: 2, Commit: 1})
		},
		func(b *Batch) { b.Append(2, ents(1, 2, 1, 900)) },
		func(b *Batch) { b.Append(1, ents(2, 2, 2, 10)); b.Compact(1, 1, 1) },
		func(b *Batch) { b.Remove(2); b.Compact(3, 10, 4); b.Append(3, ents(11, 1, 4, 5)) },
	} {
		mem := vfs.NewMem()
		opts := testOptions(mem)
		opts.NoPreallocate = true
		w := openT(t, opts)
		commit(t, w, func(b *Batch) { b.Append(1, ents(1, 1, 1, 8)) })
		commit(t, w, fill)
		w.Close()
		data := readFile(t, mem, "/wal/"+segName(1))
		writeCorpus(t, dir, fmt.Sprintf("segment-%d", i), data)
		writeCorpus(t, dir, fmt.Sprintf("torn-%d", i), data[:len(data)-5])
	}
}

func readFile(t *testing.T, fs vfs.FS, path string) []byte {
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		t.Fatal(err)
	}
	return data
}

func writeCorpus(t *testing.T, dir, name string, data []byte) {
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\nuint32(1)\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
