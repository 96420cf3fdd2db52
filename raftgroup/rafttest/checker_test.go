package rafttest

import (
	"strings"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// The checker must catch what it claims to catch: each case feeds it a
// violation directly.

func TestCheckerElectionSafety(t *testing.T) {
	c := newChecker(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}})
	if err := c.leader(5, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.leader(5, 2); err == nil || !strings.Contains(err.Error(), "election safety") {
		t.Fatalf("two leaders in term 5: err = %v", err)
	}
}

func TestCheckerLogMatching(t *testing.T) {
	c := newChecker(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2}})
	a, b := newShadowLog(), newShadowLog()
	x, err := a.append([]raftpb.Entry{{Index: 1, Term: 1}, {Index: 2, Term: 2, Data: []byte("k=x")}})
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.append([]raftpb.Entry{{Index: 1, Term: 1}, {Index: 2, Term: 2, Data: []byte("k=y")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.register(1, x); err != nil {
		t.Fatal(err)
	}
	if err := c.register(2, y); err == nil || !strings.Contains(err.Error(), "log matching") {
		t.Fatalf("same (index, term), different entries: err = %v", err)
	}
}

func TestCheckerStateMachineSafety(t *testing.T) {
	c := newChecker(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2}})
	e1 := raftpb.Entry{Index: 2, Term: 2, Data: []byte("k=x")}
	e2 := raftpb.Entry{Index: 2, Term: 2, Data: []byte("k=y")}
	if err := c.applied(1, &e1, chainHash(c.canon[1].chain, &e1)); err != nil {
		t.Fatal(err)
	}
	if err := c.applied(2, &e2, chainHash(c.canon[1].chain, &e2)); err == nil || !strings.Contains(err.Error(), "state machine safety") {
		t.Fatalf("different entries applied at 2: err = %v", err)
	}
}

func TestCheckerLeaderCompleteness(t *testing.T) {
	c := newChecker(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}})
	c.termSeen = 2
	e := raftpb.Entry{Index: 2, Term: 2, Data: []byte("k=x")}
	if err := c.applied(1, &e, chainHash(c.canon[1].chain, &e)); err != nil {
		t.Fatal(err)
	}
	stale := newShadowLog()
	stale.reset(shadowEntry{index: 1, term: 1, chain: c.canon[1].chain})
	if err := c.completeness(3, 3, &stale); err == nil || !strings.Contains(err.Error(), "leader completeness") {
		t.Fatalf("term-3 leader without committed entry 2: err = %v", err)
	}
	if err := c.completeness(3, 2, &stale); err != nil {
		t.Fatalf("a term-2 leader may predate the commit: %v", err)
	}
}

func TestCheckerVotes(t *testing.T) {
	c := newChecker(raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}})
	if err := c.vote(1, 4, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.vote(1, 4, 3); err == nil {
		t.Fatal("two durable votes in one term accepted")
	}
}
