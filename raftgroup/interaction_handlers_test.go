package raftgroup

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/datadriven"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// handleAddNodes: add-nodes <n> [voters=(...)] [learners=(...)]
// [prevote=true] [checkquorum=true] [lease=false] [quiesce=true]
// [lazy-commit=false]
// [election=10] [heartbeat=1] [max-msg-bytes=N] [max-inflight=N]
// [seed=1]. It adds n replicas numbered after the existing ones, all
// starting from the given membership (none: a node waiting to be added).
func (e *iEnv) handleAddNodes(td *datadriven.TestData) {
	p := positional(td)
	if len(p) != 1 {
		e.t.Fatalf("%s: add-nodes <n>", td.Pos)
	}
	cs := raftpb.ConfState{Voters: e.idsArg(td, "voters"), Learners: e.idsArg(td, "learners")}
	cfg := Config{
		ElectionTicks:      int(e.uintArg(td, "election", 10)),
		HeartbeatTicks:     int(e.uintArg(td, "heartbeat", 1)),
		MaxMsgBytes:        e.uintArg(td, "max-msg-bytes", 0),
		MaxInflightMsgs:    int(e.uintArg(td, "max-inflight", 0)),
		DisablePreVote:     !e.boolArg(td, "prevote", true),
		DisableCheckQuorum: !e.boolArg(td, "checkquorum", true),
		LeaseReads:         e.boolArg(td, "lease", false),
		DisableQuiesce:     !e.boolArg(td, "quiesce", true),
		LazyCommit:         e.boolArg(td, "lazy-commit", false),
		Seed:               e.uintArg(td, "seed", 1),
	}
	first := raftpb.NodeID(len(e.ids) + 1)
	for id := first; id < first+raftpb.NodeID(e.parseUint(p[0])); id++ {
		e.addNode(id, cs, cfg)
		e.printf("%s", describeStatus(e.nodes[id].g))
	}
}

// handleCampaign: campaign <id>. The node starts an election now.
func (e *iEnv) handleCampaign(td *datadriven.TestData) {
	e.node(e.firstNode(td)).g.Campaign()
}

// handleTick: tick <id>... [n=1]. Each node ticks n times.
func (e *iEnv) handleTick(td *datadriven.TestData) {
	n := int(e.uintArg(td, "n", 1))
	for _, id := range e.nodeArgs(td) {
		g := e.node(id).g
		for range n {
			g.Tick()
		}
	}
}

// handleTickQuietly: tick-quietly <id>... n=<N>. N times: tick each
// listed node once, then stabilize every node. The traffic is not printed
// (invariants are still checked); the script shows the outcome with
// status.
func (e *iEnv) handleTickQuietly(td *datadriven.TestData) {
	n := int(e.uintArg(td, "n", 1))
	out := e.out
	defer func() { e.out = out }()
	e.out = &strings.Builder{}
	for range n {
		for _, id := range e.nodeArgs(td) {
			e.node(id).g.Tick()
		}
		e.stabilize()
	}
}

// handleTickElection: tick-election <id>... Each node ticks until its
// election timer fires: a follower or candidate until its randomized
// timeout (it campaigns), a leader until its next CheckQuorum check. It
// prints how many ticks that took.
func (e *iEnv) handleTickElection(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		g := e.node(id).g
		n := g.randomizedTimeout - g.electionElapsed
		if g.role == Leader {
			n = int32(g.cfg.ElectionTicks) - g.electionElapsed
		}
		n = max(n, 1)
		for range n {
			g.Tick()
		}
		e.printf("%d: ticked %d\n", id, n)
	}
}

// handleTickHeartbeat: tick-heartbeat <id>... Each node ticks until its
// heartbeat interval elapses.
func (e *iEnv) handleTickHeartbeat(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		g := e.node(id).g
		n := g.cfg.HeartbeatTicks
		if g.role == Leader {
			n = max(1, g.cfg.HeartbeatTicks-int(g.heartbeatElapsed))
		}
		for range n {
			g.Tick()
		}
	}
}

// handlePropose: propose <id> <data>... Each data is one proposal; prints
// the index and term each got, or the error.
func (e *iEnv) handlePropose(td *datadriven.TestData) {
	p := positional(td)
	g := e.node(e.firstNode(td)).g
	for _, data := range p[1:] {
		idx, term, err := g.Propose([]byte(data))
		if err != nil {
			e.printf("%s: error: %v\n", data, err)
			continue
		}
		e.printf("%s: index=%d term=%d\n", data, idx, term)
	}
}

// handleProposeConfChange: propose-conf-change <id> [v<n>|l<n>|r<n>]...
// [transition=auto|implicit|explicit]. v adds a voter, l a learner, r
// removes; no steps proposes leaving the joint configuration.
func (e *iEnv) handleProposeConfChange(td *datadriven.TestData) {
	p := positional(td)
	g := e.node(e.firstNode(td)).g
	var cc raftpb.ConfChange
	for _, s := range p[1:] {
		types := map[byte]raftpb.ConfChangeType{'v': raftpb.AddVoter, 'l': raftpb.AddLearner, 'r': raftpb.RemoveNode}
		typ, ok := types[s[0]]
		if !ok {
			e.t.Fatalf("%s: bad step %q", td.Pos, s)
		}
		cc.Changes = append(cc.Changes, raftpb.ConfChangeSingle{Type: typ, Node: raftpb.NodeID(e.parseUint(s[1:]))})
	}
	if a, ok := td.Arg("transition"); ok {
		tr := map[string]raftpb.ConfChangeTransition{"auto": raftpb.TransitionAuto,
			"implicit": raftpb.TransitionJointImplicit, "explicit": raftpb.TransitionJointExplicit}
		cc.Transition = tr[a.SingleVal(e.t)]
	}
	idx, term, err := g.ProposeConfChange(cc)
	if err != nil {
		e.printErr(err)
		return
	}
	e.printf("%s: index=%d term=%d\n", describeConfChange(cc), idx, term)
}

// handleReadIndex: read-index <id> id=(...). Asks for one linearizable
// read per request ID.
func (e *iEnv) handleReadIndex(td *datadriven.TestData) {
	g := e.node(e.firstNode(td)).g
	a, _ := td.Arg("id")
	for _, v := range a.Vals {
		if err := g.ReadIndex(e.parseUint(v)); err != nil {
			e.printf("read %s: error: %v\n", v, err)
		}
	}
}

// handleTransferLeader: transfer-leader <id> to=<target>.
func (e *iEnv) handleTransferLeader(td *datadriven.TestData) {
	g := e.node(e.firstNode(td)).g
	e.printErr(g.TransferLeader(raftpb.NodeID(e.uintArg(td, "to", 0))))
}

// handleWake: wake <id>... Ends quiescence, as the host does when a
// leader's node is declared dead.
func (e *iEnv) handleWake(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		e.node(id).g.Wake()
	}
}

// handleRestart: restart <id>... Crashes each node and starts it again
// from what it persisted.
func (e *iEnv) handleRestart(td *datadriven.TestData) {
	for _, id := range e.nodeArgs(td) {
		e.restart(id)
		e.printf("%s", describeStatus(e.node(id).g))
	}
}

// handleCompact: compact <id> <index>. Takes a snapshot of the node's
// state machine at index (which it must have applied) and discards the
// log up to it.
func (e *iEnv) handleCompact(td *datadriven.TestData) {
	p := positional(td)
	if len(p) != 2 {
		e.t.Fatalf("%s: compact <id> <index>", td.Pos)
	}
	n := e.node(e.firstNode(td))
	idx := raftpb.Index(e.parseUint(p[1]))
	if idx > n.applied {
		e.t.Fatalf("%s: compact %d past applied %d", td.Pos, idx, n.applied)
	}
	data := []byte(fmt.Sprintf("state@%d", idx))
	if err := n.st.CreateSnapshot(idx, n.g.ConfState(), data); err != nil {
		e.printErr(err)
		return
	}
	e.printErr(n.st.Compact(idx))
}

// handleStatus: status [<id>...]. One line per node (all if none); a
// leader also lists its progress per member.
func (e *iEnv) handleStatus(td *datadriven.TestData) {
	ids := e.nodeArgs(td)
	if len(ids) == 0 {
		ids = e.ids
	}
	for _, id := range ids {
		e.printf("%s", describeStatus(e.node(id).g))
	}
}

// handleRaftLog: raft-log <id>. The node's log, durable and not.
func (e *iEnv) handleRaftLog(td *datadriven.TestData) {
	id := e.firstNode(td)
	l := e.node(id).g.log
	first, last := l.firstIndex(), l.lastIndex()
	var b strings.Builder
	fmt.Fprintf(&b, "%d: log=%d..%d", id, first, last)
	if first > 1 {
		t, _ := l.term(first - 1)
		fmt.Fprintf(&b, " (compacted through %d/%d)", first-1, t)
	}
	ents, err := l.slice(first, last+1, 1<<62)
	if err != nil {
		e.t.Fatalf("raft-log %d: %v", id, err)
	}
	for _, ent := range ents {
		fmt.Fprintf(&b, "\n  %s", describeEntry(ent))
	}
	e.printf("%s\n", b.String())
}
