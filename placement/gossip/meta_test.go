package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{NodeID: 1},
		testMeta(3),
		{NodeID: 1<<64 - 1, ClusterID: 1<<64 - 1, RaftAddr: "[::1]:65535", ClientAddr: "host.example:1", HTTPAddr: ":8080", Capacity: 1<<64 - 1, Draining: true},
		{NodeID: 5, leaving: true},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v): %v", m, err)
		}
		if b[0] != metaVersion {
			t.Errorf("first byte %d, want version %d", b[0], metaVersion)
		}
		var got Meta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(%x): %v", b, err)
		}
		if got != m {
			t.Errorf("round trip: got %+v, want %+v", got, m)
		}
	}
}

func TestMetaEncodingIsCompact(t *testing.T) {
	b, err := testMeta(3).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// 1 version + 1 node + 1 cluster + 1 flags + 5 capacity + 3×(1+15) addresses.
	if len(b) != 57 {
		t.Errorf("encoding of %+v is %d bytes, want 57", testMeta(3), len(b))
	}
}

func TestMetaRefusesInvalid(t *testing.T) {
	long := "127.0.0.1:" + strings.Repeat("9", MaxMetaBytes)
	for _, tc := range []struct {
		name string
		m    Meta
		want error
	}{
		{"zero node ID", Meta{RaftAddr: "127.0.0.1:1"}, ErrInvalidMeta},
		{"address without port", Meta{NodeID: 1, RaftAddr: "127.0.0.1"}, ErrInvalidMeta},
		{"bad UTF-8", Meta{NodeID: 1, ClientAddr: "\xff:1"}, ErrInvalidMeta},
		{"too large", Meta{NodeID: 1, HTTPAddr: long}, ErrMetaTooLarge},
	} {
		if _, err := tc.m.MarshalBinary(); !errors.Is(err, tc.want) {
			t.Errorf("%s: MarshalBinary = %v, want %v", tc.name, err, tc.want)
		}
		if err := tc.m.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The largest Meta that fits is accepted; one byte more is not.
	m := Meta{NodeID: 1}
	base, _ := m.MarshalBinary()
	room := MaxMetaBytes - len(base) - len(":1") - 1 // the length varint grows to 2 bytes
	m.RaftAddr = strings.Repeat("h", room) + ":1"
	if b, err := m.MarshalBinary(); err != nil || len(b) != MaxMetaBytes {
		t.Fatalf("a Meta of exactly %d bytes: %d bytes, %v", MaxMetaBytes, len(b), err)
	}
	m.RaftAddr = "h" + m.RaftAddr
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("one byte over the limit: %v", err)
	}
}

func TestMetaDecodeBadInput(t *testing.T) {
	good, err := testMeta(3).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Every strict prefix of a valid encoding is refused.
	for i := range good {
		var m Meta
		if err := m.UnmarshalBinary(good[:i]); !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("prefix of %d bytes: %v", i, err)
		}
	}
	overlong := append([]byte{metaVersion}, bytes.Repeat([]byte{0xff}, 11)...)
	zeroID := []byte{metaVersion, 0, 7, 0, 0, 0, 0, 0}
	pastEnd := []byte{metaVersion, 1, 7, 0, 0, 200, 'a'}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"version 0", append([]byte{0}, good[1:]...)},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"overlong varint", overlong},
		{"node ID 0", zeroID},
		{"string past the end", pastEnd},
		{"too long", bytes.Repeat([]byte{metaVersion}, MaxMetaBytes+1)},
		{"bad address", []byte{metaVersion, 1, 7, 0, 0, 3, 'a', 'b', 'c', 0, 0}},
	} {
		var m Meta
		if err := m.UnmarshalBinary(tc.b); !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("%s: UnmarshalBinary(%x) = %v, want ErrInvalidMeta", tc.name, tc.b, err)
		}
		if m != (Meta{}) {
			t.Errorf("%s: a failed decode changed the Meta: %+v", tc.name, m)
		}
	}
}

func TestMetaLaterVersionsAppend(t *testing.T) {
	good, _ := testMeta(3).MarshalBinary()
	next := append([]byte{metaVersion + 1}, good[1:]...)
	next = binary.AppendUvarint(next, 99) // a field version 1 does not know
	next[3] |= 1 << 7                     // and an unknown flag
	var m Meta
	if err := m.UnmarshalBinary(next); err != nil {
		t.Fatalf("a version-2 encoding: %v", err)
	}
	if m != testMeta(3) {
		t.Errorf("decoded %+v, want %+v", m, testMeta(3))
	}
}
