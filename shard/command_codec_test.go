package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func randomBytes(rng *rand.Rand, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randomCodecCommand(rng *rand.Rand) Command {
	var c Command
	for range rng.IntN(4) {
		cd := Cond{Key: randomBytes(rng, 20), Exists: rng.IntN(2) == 0}
		if cd.Exists {
			cd.Value = randomBytes(rng, 200)
		}
		c.Conds = append(c.Conds, cd)
	}
	for range rng.IntN(6) {
		op := Op{Kind: OpKind(1 + rng.IntN(3)), Key: randomBytes(rng, 20)}
		if op.Kind != OpDelete {
			op.Value = randomBytes(rng, 300)
		}
		c.Ops = append(c.Ops, op)
	}
	c.ReturnPrev = rng.IntN(2) == 0
	return c
}

func commandsEqual(a, b Command) bool {
	if a.ReturnPrev != b.ReturnPrev || len(a.Conds) != len(b.Conds) || len(a.Ops) != len(b.Ops) {
		return false
	}
	for i := range a.Conds {
		x, y := a.Conds[i], b.Conds[i]
		if x.Exists != y.Exists || !bytes.Equal(x.Key, y.Key) || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	for i := range a.Ops {
		x, y := a.Ops[i], b.Ops[i]
		if x.Kind != y.Kind || !bytes.Equal(x.Key, y.Key) || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func TestCommandCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		c := randomCodecCommand(rng)
		enc := EncodeCommand(c)
		got, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !commandsEqual(got, c) {
			t.Fatalf("case %d: got %+v, want %+v", i, got, c)
		}
		// The decoded command owns its memory.
		for j := range enc {
			enc[j] ^= 0xff
		}
		if !commandsEqual(got, c) {
			t.Fatalf("case %d: decoded command aliases its input", i)
		}
	}
}

// TestCommandCodecRejects checks that every strict prefix, any suffix and
// each kind of malformed field is refused with ErrBadCommand.
func TestCommandCodecRejects(t *testing.T) {
	c := Command{
		Conds:      []Cond{{Key: []byte("k"), Value: []byte("v"), Exists: true}, {Key: []byte("a")}},
		Ops:        []Op{{Kind: OpPut, Key: []byte("k"), Value: []byte("w")}, {Kind: OpDelete, Key: []byte("d")}, {Kind: OpIncr, Key: []byte("n"), Value: []byte("1")}},
		ReturnPrev: true,
	}
	enc := EncodeCommand(c)
	for n := range len(enc) {
		if _, err := DecodeCommand(enc[:n]); !errors.Is(err, ErrBadCommand) {
			t.Errorf("prefix of %d bytes: %v", n, err)
		}
	}
	bad := map[string][]byte{
		"trailing byte":  append(bytes.Clone(enc), 0),
		"version":        append([]byte{2}, enc[1:]...),
		"flags":          append([]byte{1, 2}, enc[2:]...),
		"op kind 0":      EncodeCommand(Command{Ops: []Op{{Kind: 0, Key: []byte("k"), Value: []byte("v")}}}),
		"op kind 4":      EncodeCommand(Command{Ops: []Op{{Kind: 4, Key: []byte("k"), Value: []byte("v")}}}),
		"overlong count": {1, 0, 0x80, 0x00, 0},
		"huge count":     binary.AppendUvarint([]byte{1, 0}, 1<<40),
		"huge length":    binary.AppendUvarint([]byte{1, 0, 1, 0}, 1<<62),
		"exists flag 2":  {1, 0, 1, 2, 0, 0, 0},
	}
	for name, b := range bad {
		if _, err := DecodeCommand(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestResultCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []Result{
		{},
		{Status: StatusCondFailed, FailedCond: 3, Current: []byte("cur"), CurrentExists: true},
		{Status: StatusCondFailed, FailedCond: 0},
		{Status: StatusCondFailed, Current: []byte{}, CurrentExists: true},
		{Status: StatusOverflow},
		{Values: [][]byte{nil, []byte("12"), nil}},
		{Prev: [][]byte{[]byte("a"), nil, {}}, PrevExists: []bool{true, false, true}},
	}
	for range 500 {
		r := Result{Status: Status(rng.IntN(5))}
		if r.Status == StatusCondFailed {
			r.FailedCond, r.CurrentExists = rng.IntN(10), rng.IntN(2) == 0
			if r.CurrentExists {
				r.Current = randomBytes(rng, 30)
			}
		}
		for range rng.IntN(4) {
			v := randomBytes(rng, 10)
			if rng.IntN(2) == 0 {
				v = nil
			}
			r.Values = append(r.Values, v)
		}
		for range rng.IntN(4) {
			ok := rng.IntN(2) == 0
			r.PrevExists = append(r.PrevExists, ok)
			if ok {
				r.Prev = append(r.Prev, randomBytes(rng, 10))
			} else {
				r.Prev = append(r.Prev, nil)
			}
		}
		cases = append(cases, r)
	}
	for i, r := range cases {
		enc := EncodeResult(r)
		got, err := DecodeResult(enc)
		if err != nil || !kvResultsEqual(got, r) {
			t.Fatalf("case %d: got %+v (%v), want %+v", i, got, err, r)
		}
		if !bytes.Equal(EncodeResult(got), enc) {
			t.Fatalf("case %d: re-encoding differs", i)
		}
		for n := range len(enc) {
			if _, err := DecodeResult(enc[:n]); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("case %d: prefix of %d bytes: %v", i, n, err)
			}
		}
		if _, err := DecodeResult(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("case %d: trailing byte accepted", i)
		}
	}
}

func TestShardStateCodec(t *testing.T) {
	st := ShardState{
		Desc:        Descriptor{ID: 1 << 40, Start: []byte("a"), End: []byte("m\x00"), Replicas: []raftpb.NodeID{1, 300, 1 << 50}, Epoch: 12},
		Applied:     1 << 33,
		AppliedTerm: 9,
		ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{1, 300}, VotersOutgoing: []raftpb.NodeID{1, 2},
			Learners: []raftpb.NodeID{7}, LearnersNext: []raftpb.NodeID{2}, AutoLeave: true},
	}
	for _, s := range []ShardState{st, {}, {Desc: Descriptor{ID: 3, Start: []byte("x")}}} {
		enc := MarshalShardState(s)
		got, err := UnmarshalShardState(enc)
		if err != nil || !bytes.Equal(MarshalShardState(got), enc) || got.Desc.String() != s.Desc.String() || !got.ConfState.Equal(s.ConfState) {
			t.Fatalf("round trip of %+v: %+v %v", s, got, err)
		}
		for n := range len(enc) {
			if _, err := UnmarshalShardState(enc[:n]); !errors.Is(err, ErrBadShardState) {
				t.Fatalf("prefix of %d bytes: %v", n, err)
			}
		}
		if _, err := UnmarshalShardState(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrBadShardState) {
			t.Fatal("trailing byte accepted")
		}
	}
	d := st.Desc
	got, err := UnmarshalDescriptor(MarshalDescriptor(d))
	if err != nil || got.String() != d.String() {
		t.Fatalf("descriptor round trip: %v %v", got, err)
	}
	if _, err := UnmarshalDescriptor([]byte{2, 0, 0, 0, 0, 0}); !errors.Is(err, ErrBadShardState) {
		t.Fatalf("descriptor version 2: %v", err)
	}
}
