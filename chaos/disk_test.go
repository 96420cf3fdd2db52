package chaos

import (
	"testing"
	"time"
)

// diskExt gives every node of a linearizability run a fault-injecting
// file system (FLOTILLA_TEST_FAULTS) and the nemesis the disk faults.
type diskExt struct {
	d *Disk
}

func (e *diskExt) prepare(t *testing.T, spec *ClusterSpec, seed uint64) {
	e.d = &Disk{Dir: spec.LogDir}
	for i := range spec.Nodes {
		id := spec.Nodes[i].ID
		spec.Nodes[i].Env = append(spec.Nodes[i].Env, e.d.Env(id))
		if err := e.d.Set(id, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *diskExt) custom() map[Fault]func(*Nemesis) error {
	custom := e.d.Custom()
	// The first disk fault of a run is a failed fsync, so that every run
	// checks a fail-stop whatever the seed draws.
	slow := custom[FaultSlowDisk]
	custom[FaultSlowDisk] = func(nm *Nemesis) error {
		if len(e.d.Stops) == 0 {
			return e.d.Fsync(nm)
		}
		return slow(nm)
	}
	return custom
}

func (e *diskExt) check(t *testing.T, c *Cluster) {
	if len(e.d.Stops) == 0 {
		t.Fatalf("no failed fsync was injected: the run checked no fail-stop")
	}
	var slowest time.Duration
	for _, s := range e.d.Stops {
		slowest = max(slowest, s.After)
		t.Logf("fail-stop: node %d (%s syncs failing) exited after %v, %s: %s", s.Node, s.Scope, s.After.Round(time.Millisecond), s.Exit, s.Line)
	}
	t.Logf("fail-stops: %d, the slowest %v after its fault", len(e.d.Stops), slowest.Round(time.Millisecond))
}

// TestDiskFaults: three shardnode processes on loopback whose syncs fail
// (each victim must stop by itself, exit non-zero naming the error, and
// come back with every acknowledged write) or turn slow (50-300 ms per
// sync), with kill -9 and SIGSTOP besides. The history must stay
// linearizable and the ledger whole.
func TestDiskFaults(t *testing.T) {
	needChaos(t)
	faults := append(append(DiskFaults(), DiskFaults()...), ProcessFaults()...)
	cfg := linDefaults(faults)
	cfg.ext = &diskExt{}
	soak(t, cfg)
}
