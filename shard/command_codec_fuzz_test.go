package shard

import (
	"bytes"
	"errors"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// codecSeedCommands are the in-code seeds of FuzzDecodeCommand; the
// corpus in testdata/fuzz/FuzzDecodeCommand adds malformed neighbours.
func codecSeedCommands() []Command {
	return []Command{
		{},
		{Ops: []Op{{Kind: OpPut, Key: []byte("k"), Value: []byte("v")}}},
		{Ops: []Op{{Kind: OpDelete, Key: []byte("k")}, {Kind: OpIncr, Key: []byte("n"), Value: []byte("-5")}}, ReturnPrev: true},
		{Conds: []Cond{{Key: []byte("k"), Value: []byte("old"), Exists: true}, {Key: []byte("absent")}},
			Ops: []Op{{Kind: OpPut, Key: []byte("k"), Value: []byte("new")}}},
		{Ops: []Op{{Kind: OpPut, Key: nil, Value: bytes.Repeat([]byte("x"), 300)}}},
	}
}

// FuzzDecodeCommand feeds arbitrary bytes to DecodeCommand: it must never
// panic, must fail only with ErrBadCommand, and whatever it accepts must
// re-encode to exactly the input (the encoding is canonical, so no two
// byte strings decode to the same command). The apply path's decode
// (aliasing the input, into scratch arrays already holding a command) must
// agree with it.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range codecSeedCommands() {
		f.Add(EncodeCommand(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		prev := codecSeedCommands()[3]
		ca, aerr := decodeCommand(b, false, prev.Conds, prev.Ops)
		if (err == nil) != (aerr == nil) || err == nil && !bytes.Equal(EncodeCommand(ca), b) {
			t.Fatalf("apply path's decode: %+v, %v; DecodeCommand: %+v, %v", ca, aerr, c, err)
		}
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v does not wrap ErrBadCommand", err)
			}
			return
		}
		if enc := EncodeCommand(c); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %+v re-encodes as %x, input %x", c, enc, b)
		}
	})
}

// FuzzDecodeResult is FuzzDecodeCommand for results.
func FuzzDecodeResult(f *testing.F) {
	f.Add(EncodeResult(Result{}))
	f.Add(EncodeResult(Result{Status: StatusCondFailed, FailedCond: 2, Current: []byte("c"), CurrentExists: true}))
	f.Add(EncodeResult(Result{Values: [][]byte{nil, []byte("7")}, Prev: [][]byte{nil, []byte("p")}, PrevExists: []bool{false, true}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v does not wrap ErrBadCommand", err)
			}
			return
		}
		if enc := EncodeResult(r); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %+v re-encodes as %x, input %x", r, enc, b)
		}
	})
}

// FuzzUnmarshalShardState is FuzzDecodeCommand for shard states.
func FuzzUnmarshalShardState(f *testing.F) {
	f.Add(MarshalShardState(ShardState{}))
	f.Add(MarshalShardState(ShardState{
		Desc:    Descriptor{ID: 5, Start: []byte("a"), End: []byte("b"), Replicas: []raftpb.NodeID{1, 2}, Epoch: 3},
		Applied: 10, AppliedTerm: 2,
		ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{1}, VotersOutgoing: []raftpb.NodeID{2}, AutoLeave: true},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := UnmarshalShardState(b)
		if err != nil {
			if !errors.Is(err, ErrBadShardState) {
				t.Fatalf("error %v does not wrap ErrBadShardState", err)
			}
			return
		}
		if enc := MarshalShardState(st); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %+v re-encodes as %x, input %x", st, enc, b)
		}
	})
}
