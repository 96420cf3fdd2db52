package raftpb

import (
	"errors"
	"testing"
)

func TestConfChangeRoundTrip(t *testing.T) {
	cases := []ConfChange{
		{},
		{Changes: []ConfChangeSingle{{AddVoter, 4}}},
		{Transition: TransitionJointExplicit, Changes: []ConfChangeSingle{{AddVoter, 4}, {RemoveNode, 1}, {AddLearner, 1 << 60}}, Context: []byte("addr")},
	}
	for _, cc := range cases {
		got, err := UnmarshalConfChange(cc.Marshal())
		if err != nil {
			t.Fatalf("%v: %v", cc, err)
		}
		if got.String() != cc.String() || got.Transition != cc.Transition || string(got.Context) != string(cc.Context) {
			t.Fatalf("round trip: got %+v want %+v", got, cc)
		}
	}
}

func TestConfChangeRejectsMalformed(t *testing.T) {
	good := ConfChange{Changes: []ConfChangeSingle{{AddVoter, 300}}, Context: []byte("x")}.Marshal()
	for i := 0; i < len(good); i++ {
		if _, err := UnmarshalConfChange(good[:i]); !errors.Is(err, ErrBadConfChange) {
			t.Fatalf("prefix %d: err = %v, want ErrBadConfChange", i, err)
		}
	}
	bad := append([]byte(nil), good...)
	bad[3] = 9 // step type
	if _, err := UnmarshalConfChange(bad); !errors.Is(err, ErrBadConfChange) {
		t.Fatalf("bad type: err = %v", err)
	}
	if _, err := UnmarshalConfChange(append(good, 0)); !errors.Is(err, ErrBadConfChange) {
		t.Fatalf("trailing byte: err = %v", err)
	}
}

func FuzzUnmarshalConfChange(f *testing.F) {
	f.Add(ConfChange{Changes: []ConfChangeSingle{{AddVoter, 4}, {RemoveNode, 2}}}.Marshal())
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := UnmarshalConfChange(b)
		if err != nil {
			return
		}
		again, err := UnmarshalConfChange(cc.Marshal())
		if err != nil || again.String() != cc.String() {
			t.Fatalf("re-encode of %x failed: %v", b, err)
		}
	})
}
