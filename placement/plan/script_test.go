package plan

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScripts runs the scripts in testdata/scripts: small clusters in the
// cluster notation, with Plan's actions and reasons printed so a reader can
// follow each decision. Every plan is checked with checkActions as well as
// printed. Regenerate the expected output with -rewrite.
//
//	cluster                       (input: the notation of parseCluster)
//	config [replicas=N] [meta-replicas=N] [max-moves=N] [max-moves-per-node=N]
//	       [max-leader-transfers=N] [tolerance=F] [balance-load] [split-size=N]
//	plan                          print Plan's actions
//	apply                         carry out the last plan's actions
//	run [max-steps=N]             plan and apply until nothing is left to do
//	node id=N [state=S] [down=D]  add a node, or change its state
//	counts                        replicas and leaders per node
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		s := &script{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return s.handle(t, d)
		})
	})
}

type script struct {
	m    *model
	last []Action
}

func (s *script) handle(t *testing.T, d *datadriven.TestData) string {
	if s.m == nil && d.Cmd != "cluster" {
		t.Fatalf("%s: no cluster yet", d.Pos)
	}
	switch d.Cmd {
	case "cluster":
		// Elections after a leader's node goes down are random, from a
		// fixed seed.
		s.m = &model{cfg: testConfig(), rng: rand.New(rand.NewPCG(1, 1)), nextID: 1000}
		s.m.c = parseCluster(t, d.Input)
		return ""
	case "config":
		return s.handleConfig(t, d)
	case "plan":
		s.last = Plan(s.m.c, s.m.cfg)
		checkActions(t, s.m.c, s.m.cfg, s.last)
		return describeActions(s.last)
	case "apply":
		s.m.start(t, s.last, 0)
		s.last = nil
		return s.counts()
	case "run":
		maxSteps := 1000
		d.MaybeScanArgs(t, "max-steps", &maxSteps)
		steps := s.m.run(t, maxSteps, 0)
		return fmt.Sprintf("fixed point after %d steps\n%s", steps, s.counts())
	case "node":
		return s.handleNode(t, d)
	case "counts":
		return s.counts()
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

func (s *script) handleConfig(t *testing.T, d *datadriven.TestData) string {
	cfg := &s.m.cfg
	d.MaybeScanArgs(t, "replicas", &cfg.Replicas)
	d.MaybeScanArgs(t, "meta-replicas", &cfg.MetaReplicas)
	d.MaybeScanArgs(t, "max-moves", &cfg.MaxMoves)
	d.MaybeScanArgs(t, "max-moves-per-node", &cfg.MaxMovesPerNode)
	d.MaybeScanArgs(t, "max-leader-transfers", &cfg.MaxLeaderTransfers)
	d.MaybeScanArgs(t, "tolerance", &cfg.Tolerance)
	d.MaybeScanArgs(t, "split-size", &cfg.SplitSizeBytes)
	cfg.BalanceLoad = d.HasArg("balance-load")
	return cfg.String()
}

func (s *script) handleNode(t *testing.T, d *datadriven.TestData) string {
	var id uint64
	d.ScanArgs(t, "id", &id)
	words := []string{fmt.Sprint(id)}
	if d.HasArg("state") {
		var st string
		d.ScanArgs(t, "state", &st)
		words = append(words, st)
	}
	if d.HasArg("down") {
		var down string
		d.ScanArgs(t, "down", &down)
		words = append(words, "down="+down)
	}
	var c Cluster
	if err := parseNode(&c, words); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	n := c.Nodes[0]
	if s.m.nodeIndex(n.ID) < 0 {
		s.m.c.Nodes = append(s.m.c.Nodes, n)
	} else {
		s.m.setState(n.ID, n.State, n.DownFor)
	}
	return s.counts()
}

func describeActions(acts []Action) string {
	if len(acts) == 0 {
		return "nothing to do\n"
	}
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintln(&b, a)
	}
	return b.String()
}

// counts prints each node's state, replicas (voters and learners) and
// leaderships.
func (s *script) counts() string {
	var b strings.Builder
	for _, n := range s.m.c.Nodes {
		replicas, leaders := 0, 0
		for _, sh := range s.m.c.Shards {
			for _, v := range append(sh.Voters, sh.Learners...) {
				if v == n.ID {
					replicas++
				}
			}
			if sh.Leader == n.ID {
				leaders++
			}
		}
		state := n.State.String()
		if n.DownFor > 0 {
			state += fmt.Sprintf(" for %v", n.DownFor.Round(time.Second))
		}
		fmt.Fprintf(&b, "node %d (%s): %d replicas, %d leaders\n", n.ID, state, replicas, leaders)
	}
	return b.String()
}
