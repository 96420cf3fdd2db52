package shard

import (
	"errors"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func TestForwardCodecRoundTrip(t *testing.T) {
	req := forwardRequest{kind: fwdScan, consistency: Lease, shard: 42, parts: [][]byte{[]byte("a"), nil, {7}}}
	got, err := unmarshalForward(req.marshal())
	if err != nil || got.kind != fwdScan || got.consistency != Lease || got.shard != 42 || len(got.parts) != 3 || string(got.parts[0]) != "a" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	ans := encodeAnswer(nil, &NotLeaderError{Shard: 42, Leader: 3})
	_, err = decodeAnswer(42, ans)
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != 3 {
		t.Fatalf("not-leader answer decoded as %v", err)
	}
	if _, err := decodeAnswer(42, encodeAnswer(nil, ErrTimeout)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout answer decoded as %v", err)
	}
	vals, found, err := decodeValues(encodeValues([][]byte{[]byte("v"), nil, {}}, []bool{true, false, true}), 3)
	if err != nil || string(vals[0]) != "v" || vals[1] != nil || vals[2] == nil || len(vals[2]) != 0 || !found[0] || found[1] || !found[2] {
		t.Fatalf("values: %q %v %v", vals, found, err)
	}
	if _, _, err := decodeValues(encodeValues([][]byte{[]byte("v")}, []bool{true}), 2); !errors.Is(err, errBadForward) {
		t.Fatalf("1 value decoded as 2: %v", err)
	}
	kvs := []KeyValue{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("k2")}}
	back, err := decodePairs(encodePairs(kvs))
	if err != nil || len(back) != 2 || string(back[1].Key) != "k2" {
		t.Fatalf("pairs: %v %v", back, err)
	}
}

// FuzzForwardDecode: whatever bytes arrive as a forwarded request or
// answer, decoding returns an error or a value, never a panic.
func FuzzForwardDecode(f *testing.F) {
	f.Add((&forwardRequest{kind: fwdPropose, shard: 1, parts: [][]byte{[]byte("cmd")}}).marshal())
	f.Add(encodeAnswer([]byte("x"), nil))
	f.Add(encodePairs([]KeyValue{{Key: []byte("a"), Value: []byte("b")}}))
	f.Add([]byte{1, 1, 0, 1, 200, 200, 200, 200, 1})
	f.Add((&forwardRequest{kind: fwdReadMany, shard: 1, parts: [][]byte{[]byte("a"), nil, []byte("c")}}).marshal())
	f.Add(encodeValues([][]byte{[]byte("a"), nil, {}}, []bool{true, false, true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if f, err := unmarshalForward(b); err == nil && len(f.parts) > maxParts(f.kind) {
			t.Fatalf("kind %d decoded with %d parts", f.kind, len(f.parts))
		}
		_, _ = decodeAnswer(raftpb.GroupID(1), b)
		_, _ = decodePairs(b)
		if vals, found, err := decodeValues(b, 3); err == nil && (len(vals) != 3 || len(found) != 3) {
			t.Fatalf("3 values decoded as %d", len(vals))
		}
	})
}
