package transport

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// sampleMessages covers every message type and every optional field.
func sampleMessages(from, to raftpb.NodeID) []raftpb.Message {
	snap := &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 90, Term: 4,
		ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{1, 2}, VotersOutgoing: []raftpb.NodeID{1, 3},
			Learners: []raftpb.NodeID{4}, LearnersNext: []raftpb.NodeID{3}, AutoLeave: true}}, Data: []byte("state")}
	return []raftpb.Message{
		{Type: raftpb.MsgApp, Group: 1 << 40, Term: 5, LogTerm: 4, Index: 10, Commit: 9,
			Entries: []raftpb.Entry{{Term: 5, Index: 11, Data: []byte("a")}, {Term: 5, Index: 12, Type: raftpb.EntryConfChange, Data: []byte("cc")}, {Term: 5, Index: 13}}},
		{Type: raftpb.MsgAppResp, Group: 2, Term: 5, Index: 9, Reject: true, RejectHint: 7, LogTerm: 3},
		{Type: raftpb.MsgVote, Group: 3, Term: 6, Index: 100, LogTerm: 5},
		{Type: raftpb.MsgVoteResp, Group: 3, Term: 6, Reject: true},
		{Type: raftpb.MsgPreVote, Group: 0, Term: 7, Index: 1, LogTerm: 1},
		{Type: raftpb.MsgPreVoteResp, Group: 0, Term: 7},
		{Type: raftpb.MsgSnap, Group: 9, Term: 4, Snapshot: snap},
		{Type: raftpb.MsgTimeoutNow, Group: 9, Term: 4},
		{Type: raftpb.MsgHeartbeat, Group: 5, Term: 8, Commit: 55, Context: 3},
	}
}

func sampleHeartbeats() []raftpb.Message {
	return []raftpb.Message{
		{Type: raftpb.MsgHeartbeat, Group: 5, Term: 8, Commit: 55, Context: 1<<63 + 1},
		{Type: raftpb.MsgHeartbeatResp, Group: 6, Term: 8, Context: 2},
		{Type: raftpb.MsgQuiesce, Group: 1 << 50, Term: 1, Commit: 1},
	}
}

// encodeBatch builds one complete batch frame (with prefix).
func encodeBatch(cluster uint64, from, to raftpb.NodeID, msgs, hbs []raftpb.Message) []byte {
	b := beginFrame(nil, frameHeader{kind: kindBatch, cluster: cluster, from: from, to: to})
	for i := range msgs {
		b = appendMessage(b, &msgs[i])
	}
	for i := range hbs {
		b = appendHeartbeat(b, &hbs[i])
	}
	finishFrame(b, uint32(len(msgs)), uint32(len(hbs)))
	return b
}

// decodeFrame runs the receive path on a complete frame.
func decodeFrame(frame []byte, max int, cluster uint64, self raftpb.NodeID) ([]raftpb.Message, error) {
	b, err := readFrame(bufio.NewReader(bytes.NewReader(frame)), max)
	if err != nil {
		return nil, err
	}
	h, body, err := parseHeader(b, cluster, self)
	if err != nil {
		return nil, err
	}
	switch h.kind {
	case kindChunk:
		_, err := decodeChunk(body, DefaultSnapshotChunkBytes)
		return nil, err
	case kindCall:
		_, _, err := decodeCall(body)
		return nil, err
	case kindReply:
		_, _, err := decodeReply(body)
		return nil, err
	}
	return decodeBatch(h, body, nil)
}

func TestCodecRoundTrip(t *testing.T) {
	msgs, hbs := sampleMessages(1, 2), sampleHeartbeats()
	got, err := decodeFrame(encodeBatch(7, 1, 2, msgs, hbs), DefaultMaxFrameBytes, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]raftpb.Message(nil), msgs...), hbs...)
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		want[i].From, want[i].To = 1, 2
		if describe(got[i]) != describe(want[i]) {
			t.Errorf("message %d:\n got %s\nwant %s", i, describe(got[i]), describe(want[i]))
		}
	}
	s := got[6].Snapshot
	if s == nil || !s.Metadata.ConfState.Equal(msgs[6].Snapshot.Metadata.ConfState) || string(s.Data) != "state" || s.Metadata.Index != 90 {
		t.Fatalf("snapshot %+v", s)
	}
	// Entries are carved from one arena with clipped capacity: appending
	// to one message's entries must not clobber another's.
	e := got[0].Entries
	if cap(e) != len(e) || cap(e[0].Data) != len(e[0].Data) {
		t.Fatalf("entries/data capacity not clipped: %d/%d, %d/%d", len(e), cap(e), len(e[0].Data), cap(e[0].Data))
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := encodeBatch(7, 1, 2, sampleMessages(1, 2), sampleHeartbeats())
	for i := 0; i < len(good); i++ { // every truncation
		if _, err := decodeFrame(good[:i], DefaultMaxFrameBytes, 7, 2); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("truncated at %d: err = %v", i, err)
		}
	}
	if _, err := decodeFrame(good, 64, 7, 2); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("oversized: err = %v", err)
	}
	if _, err := decodeFrame(good, DefaultMaxFrameBytes, 8, 2); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("other cluster: err = %v", err)
	}
	if _, err := decodeFrame(good, DefaultMaxFrameBytes, 7, 3); !errors.Is(err, ErrMisrouted) {
		t.Fatalf("misrouted: err = %v", err)
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	for i := 0; i < 2000; i++ { // flipped bytes: the CRC catches them
		bad := bytes.Clone(good)
		bad[prefixBytes+rng.IntN(len(bad)-prefixBytes)] ^= byte(1 + rng.IntN(255))
		if _, err := decodeFrame(bad, DefaultMaxFrameBytes, 7, 2); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("flipped byte: err = %v", err)
		}
	}
	// Valid checksum, forged counts: must fail without allocating the lie.
	forged := encodeBatch(7, 1, 2, nil, nil)
	finishFrame(forged, 1<<31, 1<<31)
	if _, err := decodeFrame(forged, DefaultMaxFrameBytes, 7, 2); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("forged counts: err = %v", err)
	}
}

func TestEncodeAllocatesNothingPerMessage(t *testing.T) {
	msgs := []raftpb.Message{msgApp(1, 1, 2, 5, 100), {Type: raftpb.MsgAppResp, Group: 3, Term: 2, Index: 9}}
	buf := make([]byte, 0, 64<<10)
	allocs := testing.AllocsPerRun(100, func() {
		b := beginFrame(buf[:0], frameHeader{kind: kindBatch, cluster: 1, from: 1, to: 2})
		for i := 0; i < 100; i++ {
			b = appendMessage(b, &msgs[i%2])
		}
		finishFrame(b, 100, 0)
	})
	if allocs != 0 {
		t.Fatalf("encoding 100 messages allocated %v times", allocs)
	}
}

// TestDecodeAllocatesPerFrameNotPerMessage: decoding allocates entry
// arenas that double (so their number grows with the log of the frame's
// entries, never per message) and the message slice only when the one
// passed in is too small.
func TestDecodeAllocatesPerFrameNotPerMessage(t *testing.T) {
	for _, tc := range []struct {
		messages int
		reuse    bool
		want     float64
	}{
		{200, false, 2},  // the slice, one arena
		{200, true, 1},   // one arena
		{4000, true, 5},  // arenas of 256, 512, 1024, 2048 and the rest
		{4000, false, 6}, // and the slice
	} {
		msgs := make([]raftpb.Message, tc.messages)
		for i := range msgs {
			msgs[i] = msgApp(raftpb.GroupID(i), 1, 2, raftpb.Index(i), 100)
		}
		frame := encodeBatch(7, 1, 2, msgs, sampleHeartbeats())
		b := frame[prefixBytes:]
		var out []raftpb.Message
		if tc.reuse {
			out = make([]raftpb.Message, 0, tc.messages+len(sampleHeartbeats()))
		}
		allocs := testing.AllocsPerRun(20, func() {
			h, body, err := parseHeader(b, 7, 2)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeBatch(h, body, out)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.messages+len(sampleHeartbeats()) {
				t.Fatalf("decoded %d messages, want %d", len(got), tc.messages+len(sampleHeartbeats()))
			}
		})
		if allocs > tc.want {
			t.Errorf("decoding a %d-message frame (reusing the slice: %v) allocated %v times, want <= %v",
				tc.messages, tc.reuse, allocs, tc.want)
		}
	}
}

// TestFastDecodeAgreesWithChecked: on encoded messages with field values of
// every varint length (1 to 10 bytes), and on their truncations and random
// byte flips, the fast decoders either decline or produce exactly what the
// checked decoders produce, at the same offset.
func TestFastDecodeAgreesWithChecked(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	value := func() uint64 { return rng.Uint64() >> rng.UintN(64) } // every magnitude
	for iter := 0; iter < 3000; iter++ {
		m := raftpb.Message{Type: raftpb.MessageType(1 + rng.IntN(int(raftpb.MaxMessageType))),
			Group: raftpb.GroupID(value()), Term: raftpb.Term(value()), LogTerm: raftpb.Term(value()),
			Index: raftpb.Index(value()), Commit: raftpb.Index(value()), RejectHint: raftpb.Index(value()),
			Context: value(), Reject: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			m.Entries = []raftpb.Entry{{Term: raftpb.Term(value()), Index: raftpb.Index(value()),
				Type: raftpb.EntryType(rng.UintN(uint(raftpb.MaxEntryType) + 1)), Data: make([]byte, rng.IntN(200))}}
		}
		b := appendMessage(nil, &m)
		switch rng.IntN(3) {
		case 0:
			b = b[:rng.IntN(len(b)+1)]
		case 1:
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		var fast, slow raftpb.Message
		df, ds := decoder{b: b}, decoder{b: b}
		flags, ok := decodeScalarsFast(&df, &fast)
		if !ok {
			continue
		}
		if sflags := decodeScalars(&ds, &slow); ds.err != nil || sflags != flags || df.off != ds.off || describe(fast) != describe(slow) {
			t.Fatalf("seed %d: scalars of %x: fast %s (flags %x, offset %d), checked %s (flags %x, offset %d, err %v)",
				seed, b, describe(fast), flags, df.off, describe(slow), sflags, ds.off, ds.err)
		}
		if flags&hasEntries == 0 || df.off >= len(b) {
			continue
		}
		df.off++ // the entry count (one entry, one byte)
		ds.off = df.off
		var ef raftpb.Entry
		if !decodeEntryFast(&df, &ef) {
			continue
		}
		de := decoder{b: append([]byte{1}, b[ds.off:]...)} // a count of one, then the entry
		arena := decodeEntries(&de, &slow, nil, 0)
		if de.err != nil || len(arena) != 1 || de.off-1 != df.off-ds.off {
			t.Fatalf("seed %d: checked decoder (err %v) disagrees on entry %x that the fast one took", seed, de.err, b[ds.off:])
		}
		es := arena[0]
		if ef.Term != es.Term || ef.Index != es.Index || ef.Type != es.Type || !bytes.Equal(ef.Data, es.Data) {
			t.Fatalf("seed %d: entry %x: fast %+v, checked %+v", seed, b[ds.off:], ef, es)
		}
	}
}
