package raftgroup

import (
	"strings"

	"github.com/cockroachdb/datadriven"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// handleStep: step <id> type=<MsgType> from=<id> [to=<id>] [group=<g>]
// [term=N] [index=N] [logterm=N] [commit=N] [entries=(i/t,...)]
// [reject=true] [hint=N] [snap=i/t] [ctx=N]. Steps a hand-made message
// into node id and prints the error, if any. To and group default to the
// node and the scripts' group; terms and indexes to 0.
func (e *iEnv) handleStep(td *datadriven.TestData) {
	id := e.firstNode(td)
	m := raftpb.Message{
		Type:       e.msgTypeArg(td),
		Group:      raftpb.GroupID(e.uintArg(td, "group", uint64(interactionGroup))),
		From:       raftpb.NodeID(e.uintArg(td, "from", 0)),
		To:         raftpb.NodeID(e.uintArg(td, "to", uint64(id))),
		Term:       raftpb.Term(e.uintArg(td, "term", 0)),
		LogTerm:    raftpb.Term(e.uintArg(td, "logterm", 0)),
		Index:      raftpb.Index(e.uintArg(td, "index", 0)),
		Commit:     raftpb.Index(e.uintArg(td, "commit", 0)),
		Reject:     e.boolArg(td, "reject", false),
		RejectHint: raftpb.Index(e.uintArg(td, "hint", 0)),
		Context:    e.uintArg(td, "ctx", 0),
	}
	if a, ok := td.Arg("entries"); ok {
		for _, v := range a.Vals {
			i, t := e.indexTerm(v)
			m.Entries = append(m.Entries, raftpb.Entry{Index: i, Term: t})
		}
	}
	if a, ok := td.Arg("snap"); ok {
		i, t := e.indexTerm(a.SingleVal(e.t))
		m.Snapshot = &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: i, Term: t,
			ConfState: e.node(id).g.ConfState()}}
	}
	e.printf("%s\n", describeMessage(m))
	if err := e.node(id).g.Step(m); err != nil {
		e.printf("  error: %v\n", err)
	}
}

func (e *iEnv) msgTypeArg(td *datadriven.TestData) raftpb.MessageType {
	a, ok := td.Arg("type")
	if !ok {
		e.t.Fatalf("%s: step needs type=", td.Pos)
	}
	name := a.SingleVal(e.t)
	for t := raftpb.MessageType(0); t <= raftpb.MaxMessageType+1; t++ {
		if t.String() == name {
			return t
		}
	}
	return raftpb.MessageType(e.parseUint(name))
}

// indexTerm parses "index/term".
func (e *iEnv) indexTerm(s string) (raftpb.Index, raftpb.Term) {
	i, t, ok := strings.Cut(s, "/")
	if !ok {
		e.t.Fatalf("want index/term, got %q", s)
	}
	return raftpb.Index(e.parseUint(i)), raftpb.Term(e.parseUint(t))
}
