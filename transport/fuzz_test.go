package transport

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// seedFrames are valid frames of every shape, the fuzzer's starting points.
func seedFrames() [][]byte {
	msgs, hbs := sampleMessages(1, 2), sampleHeartbeats()
	chunkFrame := func(c chunk) []byte {
		b := beginFrame(nil, frameHeader{kind: kindChunk, cluster: 7, from: 1, to: 2})
		b = appendChunk(b, &c)
		finishFrame(b, 0, 0)
		return b
	}
	snap := raftpb.Message{Type: raftpb.MsgSnap, Group: 4, Term: 2, Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 5, Term: 2}}}
	return [][]byte{
		encodeBatch(7, 1, 2, msgs, hbs),
		encodeBatch(7, 1, 2, msgs[:1], nil),
		encodeBatch(7, 1, 2, nil, hbs),
		encodeBatch(7, 1, 2, nil, nil),
		chunkFrame(chunk{stream: 1, flags: chunkFirst | chunkLast, msg: snap, size: 3, crc: 9, data: s2.Encode(nil, []byte("abc"))}),
		chunkFrame(chunk{stream: 1, seq: 4, data: s2.Encode(nil, make([]byte, 1000))}),
		appendCall(nil, frameHeader{cluster: 7, from: 1, to: 2}, 1500*time.Millisecond, []byte("forwarded request")),
		appendReply(nil, frameHeader{cluster: 7, from: 1, to: 2}, replyOK, []byte("answer")),
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the receive path. The input is
// a frame without its length and checksum prefix, which the target adds
// (a fuzzer cannot forge CRCs, and the prefix checks are covered by
// TestDecodeRejectsBadInput), so mutations reach the header and body
// decoders. They must never panic, and whatever they accept must
// re-encode to something that decodes to the same messages.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s[prefixBytes:])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		data := make([]byte, prefixBytes, prefixBytes+len(in))
		data = append(data, in...)
		binary.LittleEndian.PutUint32(data, uint32(len(in)))
		binary.LittleEndian.PutUint32(data[4:], crc32.Checksum(in, castagnoli))
		msgs, err := decodeFrame(data, 1<<20, 7, 2)
		if err != nil || msgs == nil {
			return
		}
		var plain, hbs []raftpb.Message
		nm := binary.LittleEndian.Uint32(in[26:])
		plain, hbs = msgs[:nm], msgs[nm:]
		from := raftpb.NodeID(binary.LittleEndian.Uint64(in[10:]))
		again, err := decodeFrame(encodeBatch(7, from, 2, plain, hbs), 1<<30, 7, 2)
		if err != nil {
			t.Fatalf("re-encoding an accepted frame failed to decode: %v", err)
		}
		for i := range msgs {
			if describe(msgs[i]) != describe(again[i]) {
				t.Fatalf("message %d changed: %s vs %s", i, describe(msgs[i]), describe(again[i]))
			}
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzDecodeFrame with
// -update-corpus; otherwise it checks the corpus is present.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	if !*updateCorpus {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
			t.Fatalf("seed corpus missing in %s (run with -update-corpus): %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedFrames() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s[prefixBytes:])
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
