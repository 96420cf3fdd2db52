package plan

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseCluster reads the small notation the table tests use, one item per
// line:
//
//	node 4 [live|suspect|dead|draining|decommissioned] [down=10m] [cap=100]
//	shard 1 voters=1,2,3 [learners=4] [leader=1] [size=10] [rps=2.5] [meta] [epoch=7]
//	shards 1-30 voters=1,2,3 [leader=1] ...   (the same for each ID in the range)
//	move 1 3 4                                (shard 1 in flight from 3 to 4)
func parseCluster(t *testing.T, text string) Cluster {
	t.Helper()
	var c Cluster
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var err error
		switch f[0] {
		case "node":
			err = parseNode(&c, f[1:])
		case "shard", "shards":
			err = parseShards(&c, f[1:])
		case "move":
			err = parseMove(&c, f[1:])
		default:
			err = fmt.Errorf("unknown item %q", f[0])
		}
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	return c
}

func parseNode(c *Cluster, f []string) error {
	if len(f) == 0 {
		return fmt.Errorf("no ID")
	}
	id, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return err
	}
	n := Node{ID: NodeID(id)}
	for _, w := range f[1:] {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "live":
			n.State = Live
		case "suspect":
			n.State = Suspect
		case "dead":
			n.State = Dead
		case "draining":
			n.State = Draining
		case "decommissioned":
			n.State = Decommissioned
		case "down":
			n.DownFor, err = time.ParseDuration(v)
		case "cap":
			n.Capacity, err = strconv.ParseUint(v, 10, 64)
		default:
			err = fmt.Errorf("unknown word %q", w)
		}
		if err != nil {
			return err
		}
	}
	c.Nodes = append(c.Nodes, n)
	return nil
}

func parseShards(c *Cluster, f []string) error {
	if len(f) == 0 {
		return fmt.Errorf("no ID")
	}
	lo, hi, isRange := strings.Cut(f[0], "-")
	if !isRange {
		hi = lo
	}
	first, err1 := strconv.ParseUint(lo, 10, 64)
	last, err2 := strconv.ParseUint(hi, 10, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("bad ID %q", f[0])
	}
	var s Shard
	for _, w := range f[1:] {
		if err := parseShardWord(&s, w); err != nil {
			return err
		}
	}
	for id := first; id <= last; id++ {
		s := s
		s.ID = ShardID(id)
		s.Voters = append([]NodeID(nil), s.Voters...)
		s.Learners = append([]NodeID(nil), s.Learners...)
		c.Shards = append(c.Shards, s)
	}
	return nil
}

func parseShardWord(s *Shard, w string) error {
	k, v, _ := strings.Cut(w, "=")
	var err error
	switch k {
	case "voters":
		s.Voters, err = parseIDs(v)
	case "learners":
		s.Learners, err = parseIDs(v)
	case "leader":
		var id uint64
		id, err = strconv.ParseUint(v, 10, 64)
		s.Leader = NodeID(id)
	case "size":
		s.SizeBytes, err = strconv.ParseUint(v, 10, 64)
	case "rps":
		s.RequestsPerSec, err = strconv.ParseFloat(v, 64)
	case "epoch":
		s.Epoch, err = strconv.ParseUint(v, 10, 64)
	case "meta":
		s.Meta = true
	default:
		err = fmt.Errorf("unknown word %q", w)
	}
	return err
}

func parseIDs(v string) ([]NodeID, error) {
	var out []NodeID
	for _, p := range strings.Split(v, ",") {
		id, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, NodeID(id))
	}
	return out, nil
}

func parseMove(c *Cluster, f []string) error {
	if len(f) != 3 {
		return fmt.Errorf("want: move <shard> <from> <to>")
	}
	var v [3]uint64
	for i := range v {
		var err error
		if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return err
		}
	}
	c.InFlight = append(c.InFlight, Move{Shard: ShardID(v[0]), From: NodeID(v[1]), To: NodeID(v[2])})
	return nil
}

// brief prints actions one a line without their reasons, as the table
// tests spell them.
func brief(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "%s %d", a.Kind, a.Shard)
		if a.From != 0 {
			fmt.Fprintf(&b, " from=%d", a.From)
		}
		if a.To != 0 {
			fmt.Fprintf(&b, " to=%d", a.To)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// planCase is one table test: a cluster in the notation, a Config (zero
// fields are defaults, DeadTimeout 1m unless set), and the actions Plan
// must return, in order, in brief's form.
type planCase struct {
	name    string
	cluster string
	cfg     Config
	want    string
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCluster(t, tc.cluster)
			cfg := tc.cfg
			if cfg.DeadTimeout == 0 {
				cfg.DeadTimeout = time.Minute
			}
			acts := Plan(c, cfg)
			checkActions(t, c, cfg, acts)
			got := brief(acts)
			want := strings.TrimLeft(dedent(tc.want), "\n")
			if got != want {
				t.Fatalf("got:\n%swant:\n%s\nwith reasons: %v", got, want, acts)
			}
		})
	}
}

// dedent strips leading tabs from every line.
func dedent(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n ") + "\n"
}
