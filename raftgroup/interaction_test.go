package raftgroup

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestInteraction runs the protocol scenarios in testdata/interaction/*.txt. Each file
// is one script against a fresh set of replicas; every directive prints
// what happened, and the invariants in interaction_invariants_test.go are
// checked after every Ready and every delivered message. Regenerate the
// expected output with
//
//	go test ./raftgroup -run TestInteraction -rewrite
//
// and read the diff: every printed line must be what Raft should do.
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata/interaction", func(t *testing.T, path string) {
		e := newIEnv(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			e.t = t
			var b strings.Builder
			e.out = &b
			defer func() {
				if t.Failed() {
					t.Logf("output of %s so far:\n%s", td.Pos, b.String())
				}
			}()
			h, ok := interactionHandlers()[td.Cmd]
			if !ok {
				t.Fatalf("%s: unknown directive %q", td.Pos, td.Cmd)
			}
			h(e, td)
			e.checkInvariants()
			if b.Len() == 0 {
				return "ok\n"
			}
			return b.String()
		})
	})
}

// iHandler carries out one directive, printing into e.out.
type iHandler func(e *iEnv, td *datadriven.TestData)

// interactionHandlers maps each directive to its handler. The syntax of
// each is in the handler's comment.
func interactionHandlers() map[string]iHandler {
	return map[string]iHandler{
		"add-nodes":           (*iEnv).handleAddNodes,
		"campaign":            (*iEnv).handleCampaign,
		"tick":                (*iEnv).handleTick,
		"tick-quietly":        (*iEnv).handleTickQuietly,
		"tick-election":       (*iEnv).handleTickElection,
		"tick-heartbeat":      (*iEnv).handleTickHeartbeat,
		"propose":             (*iEnv).handlePropose,
		"propose-conf-change": (*iEnv).handleProposeConfChange,
		"read-index":          (*iEnv).handleReadIndex,
		"transfer-leader":     (*iEnv).handleTransferLeader,
		"wake":                (*iEnv).handleWake,
		"restart":             (*iEnv).handleRestart,
		"compact":             (*iEnv).handleCompact,
		"stabilize":           (*iEnv).handleStabilize,
		"process-ready":       (*iEnv).handleProcessReady,
		"ready":               (*iEnv).handleReady,
		"persist":             (*iEnv).handlePersist,
		"deliver-msgs":        (*iEnv).handleDeliverMsgs,
		"drop":                (*iEnv).handleDrop,
		"reorder":             (*iEnv).handleReorder,
		"duplicate":           (*iEnv).handleDuplicate,
		"partition":           (*iEnv).handlePartition,
		"isolate":             (*iEnv).handleIsolate,
		"heal":                (*iEnv).handleHeal,
		"msg-counts":          (*iEnv).handleMsgCounts,
		"step":                (*iEnv).handleStep,
		"status":              (*iEnv).handleStatus,
		"raft-log":            (*iEnv).handleRaftLog,
	}
}

// Argument helpers. Positional arguments are CmdArgs without values.

func (e *iEnv) parseUint(s string) uint64 {
	e.t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		e.t.Fatalf("bad number %q: %v", s, err)
	}
	return v
}

// positional returns the arguments given without "=".
func positional(td *datadriven.TestData) []string {
	var out []string
	for _, a := range td.CmdArgs {
		if len(a.Vals) == 0 {
			out = append(out, a.Key)
		}
	}
	return out
}

// nodeArgs returns the positional arguments as node IDs.
func (e *iEnv) nodeArgs(td *datadriven.TestData) []raftpb.NodeID {
	var ids []raftpb.NodeID
	for _, s := range positional(td) {
		ids = append(ids, raftpb.NodeID(e.parseUint(s)))
	}
	return ids
}

// firstNode returns the first positional argument as a node ID.
func (e *iEnv) firstNode(td *datadriven.TestData) raftpb.NodeID {
	e.t.Helper()
	p := positional(td)
	if len(p) == 0 {
		e.t.Fatalf("%s: %s needs a node ID", td.Pos, td.Cmd)
	}
	return raftpb.NodeID(e.parseUint(p[0]))
}

// uintArg returns key's value, or def if absent.
func (e *iEnv) uintArg(td *datadriven.TestData, key string, def uint64) uint64 {
	if a, ok := td.Arg(key); ok {
		return e.parseUint(a.SingleVal(e.t))
	}
	return def
}

// boolArg returns key's value, or def if absent.
func (e *iEnv) boolArg(td *datadriven.TestData, key string, def bool) bool {
	a, ok := td.Arg(key)
	if !ok {
		return def
	}
	v, err := strconv.ParseBool(a.SingleVal(e.t))
	if err != nil {
		e.t.Fatalf("%s: %s: %v", td.Pos, key, err)
	}
	return v
}

// idsArg returns key's values as node IDs.
func (e *iEnv) idsArg(td *datadriven.TestData, key string) []raftpb.NodeID {
	a, ok := td.Arg(key)
	if !ok {
		return nil
	}
	ids := make([]raftpb.NodeID, len(a.Vals))
	for i, v := range a.Vals {
		ids[i] = raftpb.NodeID(e.parseUint(v))
	}
	return ids
}

func (e *iEnv) printErr(err error) {
	if err != nil {
		e.printf("error: %v\n", err)
	}
}
