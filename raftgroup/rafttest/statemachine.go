package rafttest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// kvValue is a key's value and the log index of the write that set it.
type kvValue struct {
	val   string
	index raftpb.Index
}

// kvState is the simulated state machine: a tiny key-value map, the last
// applied index and the membership as of that index (a real state machine
// persists its ConfState beside its applied index, so a restart knows the
// membership without replaying the log).
type kvState struct {
	applied raftpb.Index
	cs      raftpb.ConfState
	kv      map[string]kvValue
}

func (s kvState) clone() kvState {
	return kvState{applied: s.applied, cs: s.cs.Clone(), kv: maps.Clone(s.kv)}
}

// stateMachine holds the live state and the state last made durable. Like
// pebble without sync, applying is not durable by itself: a crash rolls
// the state machine back to durable, and the restarted replica replays the
// log from durable.applied.
type stateMachine struct {
	live    kvState
	durable kvState
}

// newStateMachine returns the state of a bootstrapped replica (applied
// the bootstrap snapshot, if cs has members) or of an empty one.
func newStateMachine(cs raftpb.ConfState) stateMachine {
	s := kvState{cs: cs.Clone(), kv: map[string]kvValue{}}
	if len(cs.Voters) > 0 {
		s.applied = bootIndex
	}
	return stateMachine{live: s, durable: s.clone()}
}

func (sm *stateMachine) sync()  { sm.durable = sm.live.clone() }
func (sm *stateMachine) crash() { sm.live = sm.durable.clone() }

// apply applies one committed entry. A membership change that does not
// decode or apply is skipped, exactly as the core skips it.
func (sm *stateMachine) apply(e *raftpb.Entry) {
	sm.live.applied = e.Index
	switch e.Type {
	case raftpb.EntryConfChange:
		cc, err := raftpb.UnmarshalConfChange(e.Data)
		if err != nil {
			return
		}
		if cs, err := raftgroup.ApplyConfChange(sm.live.cs, cc); err == nil {
			sm.live.cs = cs
		}
	case raftpb.EntryNormal:
		if k, v, ok := parseWrite(e.Data); ok {
			sm.live.kv[k] = kvValue{val: v, index: e.Index}
		}
	}
}

// install replaces the state with a snapshot's, durably.
func (sm *stateMachine) install(s *raftpb.Snapshot) error {
	kv, err := decodeKV(s.Data)
	if err != nil {
		return err
	}
	sm.live = kvState{applied: s.Metadata.Index, cs: s.Metadata.ConfState.Clone(), kv: kv}
	sm.sync()
	return nil
}

// writeData encodes a write of val to key as a proposal payload.
func writeData(key, val string) []byte { return []byte(key + "=" + val) }

func parseWrite(b []byte) (key, val string, ok bool) {
	return strings.Cut(string(b), "=")
}

// encodeKV encodes the state as snapshot data: one "key=value@index" line
// per key, sorted.
func encodeKV(kv map[string]kvValue) []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		v := kv[k]
		fmt.Fprintf(&b, "%s=%s@%d\n", k, v.val, v.index)
	}
	return []byte(b.String())
}

func decodeKV(b []byte) (map[string]kvValue, error) {
	kv := map[string]kvValue{}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		k, rest, ok1 := strings.Cut(line, "=")
		v, idx, ok2 := strings.Cut(rest, "@")
		i, err := strconv.ParseUint(idx, 10, 64)
		if !ok1 || !ok2 || err != nil {
			return nil, fmt.Errorf("rafttest: bad snapshot line %q", line)
		}
		kv[k] = kvValue{val: v, index: raftpb.Index(i)}
	}
	return kv, nil
}
