package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badInputWAL writes 40 batches of one 300-byte entry each (group 1,
// indexes 1..40) into real files under a new directory, over at least
// three 4 KiB segments, and closes the WAL. It returns the options that
// reopen it, the segment names oldest first, and the place of entry 4's
// record.
func badInputWAL(t *testing.T) (Options, []string, span) {
	t.Helper()
	opts := Options{Dir: filepath.Join(t.TempDir(), "wal"), SegmentBytes: 4 << 10, NoPreallocate: true, CacheBytes: 8 << 10}
	w := openT(t, opts)
	for i := range 40 {
		commit(t, w, func(b *Batch) { b.Append(1, ents(i+1, 1, 1, 300)) })
	}
	var names []string
	for _, n := range w.wr.segNums {
		names = append(names, segName(n))
	}
	if len(names) < 3 {
		t.Fatalf("only %d segments", len(names))
	}
	sp := w.idx.groups[1].spans[3]
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return opts, names, sp
}

// wantOpenCorrupt opens opts and wants a *CorruptionError naming file
// (and offset, unless it is negative) whose reason contains reason.
func wantOpenCorrupt(t *testing.T, opts Options, file string, off int64, reason string) {
	t.Helper()
	w, err := Open(opts)
	if err == nil {
		w.Close()
		t.Fatal("Open succeeded")
	}
	var ce *CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want a CorruptionError", err)
	}
	if ce.File != file || (off >= 0 && ce.Offset != off) || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("Open: %v; want %s at offset %d: ...%s...", err, file, off, reason)
	}
	t.Log(err)
}

// wantOpenLast opens opts and wants group 1 to hold exactly 1..last.
func wantOpenLast(t *testing.T, opts Options, last int) {
	t.Helper()
	w := openT(t, opts)
	defer w.Close()
	if li := w.LastIndex(1); int(li) != last {
		t.Fatalf("last index %d, want %d", li, last)
	}
	checkEntries(t, w, 1, ents(1, last, 1, 300))
}

func editFile(t *testing.T, path string, edit func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputWALFiles damages a WAL's files on disk the ways a crash, a
// bad disk or an operator can, and opens it: damage a crash can explain
// (a torn or garbage tail of the newest segment) is cut off and every
// batch before it kept; anything else fails Open with a CorruptionError
// naming the file and offset, so no acknowledged batch is silently lost.
func TestBadInputWALFiles(t *testing.T) {
	t.Run("torn_tail", func(t *testing.T) {
		opts, names, _ := badInputWAL(t)
		editFile(t, filepath.Join(opts.Dir, names[len(names)-1]), func(b []byte) []byte { return b[:len(b)-5] })
		wantOpenLast(t, opts, 39)
	})
	t.Run("garbage_tail", func(t *testing.T) {
		opts, names, _ := badInputWAL(t)
		editFile(t, filepath.Join(opts.Dir, names[len(names)-1]), func(b []byte) []byte {
			return append(b, []byte("\x13\x37not a record at all, just noise after the last batch")...)
		})
		wantOpenLast(t, opts, 40)
	})
	t.Run("checksum_mid_file", func(t *testing.T) {
		opts, _, sp := badInputWAL(t)
		editFile(t, filepath.Join(opts.Dir, segName(sp.seg)), func(b []byte) []byte {
			b[int(sp.off)+headerSize+7] ^= 0x5a
			return b
		})
		wantOpenCorrupt(t, opts, segName(sp.seg), int64(sp.off), "was written later")
	})
	t.Run("unknown_record_type", func(t *testing.T) {
		opts, _, sp := badInputWAL(t)
		editFile(t, filepath.Join(opts.Dir, segName(sp.seg)), func(b []byte) []byte {
			rec := b[sp.off : sp.off+sp.size]
			rec[8] = 0x7e // a type no version wrote, with a valid checksum
			binary.LittleEndian.PutUint32(rec, crc32.Checksum(rec[4:], crcTable)^segMask(uint64(sp.seg)))
			return b
		})
		wantOpenCorrupt(t, opts, segName(sp.seg), int64(sp.off), "was written later")
	})
	t.Run("truncated_older_segment", func(t *testing.T) {
		opts, names, _ := badInputWAL(t)
		editFile(t, filepath.Join(opts.Dir, names[0]), func(b []byte) []byte { return b[:len(b)-100] })
		wantOpenCorrupt(t, opts, names[0], -1, "starts at batch")
	})
	t.Run("missing_middle_segment", func(t *testing.T) {
		opts, names, _ := badInputWAL(t)
		if err := os.Remove(filepath.Join(opts.Dir, names[1])); err != nil {
			t.Fatal(err)
		}
		wantOpenCorrupt(t, opts, names[0], -1, "starts at batch")
	})
	t.Run("segment_copied_over_another", func(t *testing.T) {
		opts, names, _ := badInputWAL(t)
		first, err := os.ReadFile(filepath.Join(opts.Dir, names[0]))
		if err != nil {
			t.Fatal(err)
		}
		editFile(t, filepath.Join(opts.Dir, names[1]), func([]byte) []byte { return first })
		// (No record in it passes under its own name's checksum mask.)
		wantOpenCorrupt(t, opts, names[1], 0, "starts at batch")
	})
	t.Run("foreign_files", func(t *testing.T) {
		opts, _, _ := badInputWAL(t)
		for _, name := range []string{"notes.txt", "1.wal", "0000000x.wal", "00000001.wal.bak"} {
			if err := os.WriteFile(filepath.Join(opts.Dir, name), []byte("not a segment"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(opts.Dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		wantOpenLast(t, opts, 40)
		if _, err := os.Stat(filepath.Join(opts.Dir, "notes.txt")); err != nil {
			t.Fatalf("a foreign file was touched: %v", err)
		}
	})
	t.Run("dir_is_a_file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "wal")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Open(Options{Dir: path})
		if err == nil {
			w.Close()
			t.Fatal("Open succeeded on a regular file")
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name %s", err, path)
		}
		t.Log(err)
	})
}
