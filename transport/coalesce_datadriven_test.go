package transport

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestCoalesceScripts runs testdata/coalesce: scripts of sends, flushes,
// cuts and clock steps on a MemNetwork, printing every delivered frame.
// Regenerate expectations with -rewrite.
func TestCoalesceScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/coalesce", func(t *testing.T, path string) {
		env := &scriptEnv{}
		datadriven.RunTest(t, path, env.handle)
	})
}

type scriptEnv struct {
	n     *MemNetwork
	nodes map[raftpb.NodeID]*MemTransport
	log   []string
}

// scriptHandler appends every delivered frame to the shared log.
type scriptHandler struct {
	env *scriptEnv
	id  raftpb.NodeID
	recorder
}

func (h *scriptHandler) HandleMessages(batch []raftpb.Message) {
	parts := make([]string, len(batch))
	for i, m := range batch {
		parts[i] = m.String()
	}
	h.env.log = append(h.env.log, fmt.Sprintf("%v %d<-%d frame of %d: %s", h.env.n.Now(), h.id, batch[0].From, len(batch), strings.Join(parts, "; ")))
}

func (e *scriptEnv) handle(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "nodes":
		var n int
		d.ScanArgs(t, "n", &n)
		e.n = NewMemNetwork(1, Faults{MinDelay: time.Millisecond, MaxDelay: time.Millisecond})
		e.nodes = map[raftpb.NodeID]*MemTransport{}
		for id := raftpb.NodeID(1); id <= raftpb.NodeID(n); id++ {
			e.nodes[id] = e.n.Add(id, &scriptHandler{env: e, id: id})
		}
		return fmt.Sprintf("%d nodes", n)
	case "send":
		var from uint64
		d.ScanArgs(t, "from", &from)
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			e.nodes[raftpb.NodeID(from)].Send(parseScriptMessage(t, line))
		}
		return ""
	case "flush":
		var node uint64
		d.ScanArgs(t, "node", &node)
		e.nodes[raftpb.NodeID(node)].FlushHeartbeats()
		return ""
	case "cut":
		var from, to uint64
		d.ScanArgs(t, "from", &from)
		d.ScanArgs(t, "to", &to)
		e.n.Cut(raftpb.NodeID(from), raftpb.NodeID(to))
		return ""
	case "heal":
		e.n.Heal()
		return ""
	case "advance":
		var ms int
		d.ScanArgs(t, "ms", &ms)
		e.n.Advance(time.Duration(ms) * time.Millisecond)
		out := strings.Join(e.log, "\n")
		e.log = nil
		if out == "" {
			return "nothing delivered"
		}
		return out
	case "stats":
		s := e.n.Stats()
		return fmt.Sprintf("sent=%d delivered=%d dropped=%d heartbeat-frames=%d", s.Sent, s.Delivered, s.Dropped, s.HeartbeatFrames)
	}
	t.Fatalf("unknown directive %q", d.Cmd)
	return ""
}

// parseScriptMessage reads "<type> to=N g=N t=N [c=N] [ctx=N] [i=N]".
func parseScriptMessage(t *testing.T, line string) raftpb.Message {
	fields := strings.Fields(line)
	types := map[string]raftpb.MessageType{"hb": raftpb.MsgHeartbeat, "resp": raftpb.MsgHeartbeatResp,
		"quiesce": raftpb.MsgQuiesce, "app": raftpb.MsgApp, "vote": raftpb.MsgVote}
	m := raftpb.Message{Type: types[fields[0]]}
	if m.Type == 0 {
		t.Fatalf("unknown message type in %q", line)
	}
	for _, f := range fields[1:] {
		var v uint64
		k, val, _ := strings.Cut(f, "=")
		if _, err := fmt.Sscan(val, &v); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		switch k {
		case "to":
			m.To = raftpb.NodeID(v)
		case "g":
			m.Group = raftpb.GroupID(v)
		case "t":
			m.Term = raftpb.Term(v)
		case "c":
			m.Commit = raftpb.Index(v)
		case "ctx":
			m.Context = v
		case "i":
			m.Index = raftpb.Index(v)
		default:
			t.Fatalf("unknown field %q", k)
		}
	}
	return m
}
