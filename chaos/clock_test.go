package chaos

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// clockExt turns lease reads on for every node of a linearizability run
// (shardnode start --lease-reads: GET, MGET and EXISTS are served from
// the leader's lease) and makes one node's clock run at another rate
// (FLOTILLA_TEST_CLOCK_RATE), drawn from the seed within maxSkew.
type clockExt struct {
	maxSkew float64 // e.g. 0.05: the rate is 1±0.05
	node    int
	rate    float64
}

func (e *clockExt) prepare(t *testing.T, spec *ClusterSpec, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc10c))
	e.node = 1 + rng.IntN(len(spec.Nodes))
	e.rate = 1 - e.maxSkew
	if rng.IntN(2) == 0 {
		e.rate = 1 + e.maxSkew
	}
	for i := range spec.Nodes {
		spec.Nodes[i].Args = append(spec.Nodes[i].Args, "--lease-reads")
		if spec.Nodes[i].ID == e.node {
			spec.Nodes[i].Env = append(spec.Nodes[i].Env, fmt.Sprintf("FLOTILLA_TEST_CLOCK_RATE=%g", e.rate))
		}
	}
	t.Logf("lease reads on; node %d's clock runs at %g times the others' rate", e.node, e.rate)
}

func (e *clockExt) custom() map[Fault]func(*Nemesis) error { return nil }

func (e *clockExt) check(t *testing.T, c *Cluster) {}

// needLong skips t outside long mode: the tests of lease reads under
// clock skew take minutes together, too long for the CI set.
func needLong(t *testing.T) {
	t.Helper()
	if !longMode() {
		t.Skip("long mode only: go test ./chaos -long (or -chaos -run with FLOTILLA_CHAOS_LONG=1)")
	}
}

// TestLeaseClockSkew: three shardnode processes on loopback serving
// reads from the leader's lease, one of them with a clock 5% fast or
// slow (within the drift raftgroup's lease tolerates), under kill -9 and
// SIGSTOP. The history must stay linearizable.
func TestLeaseClockSkew(t *testing.T) {
	needLong(t)
	cfg := linDefaults(ProcessFaults())
	cfg.ext = &clockExt{maxSkew: 0.05}
	soak(t, cfg)
}
