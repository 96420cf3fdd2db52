package chaos

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Fault is a kind of fault a Nemesis injects.
type Fault string

// The faults. Process faults need only a Cluster; network faults need a
// Net.
const (
	FaultKill      Fault = "kill"      // kill -9 a node (restarted by a later step)
	FaultPause     Fault = "pause"     // SIGSTOP a node (SIGCONT by a later step)
	FaultPartition Fault = "partition" // a random minority cut from the majority, both ways
	FaultBridge    Fault = "bridge"    // two nodes cut from each other, both still reach the others
	FaultOneWay    Fault = "oneway"    // one node drops everything from another
	FaultLossy     Fault = "lossy"     // packet loss between peers (and delay, with netem)
	FaultSlow      Fault = "slow"      // one node's sending rate-limited (tbf)
	// Placement faults: admin operations through a node's HTTP API
	// (placement clusters only; admin.go).
	FaultMove     Fault = "move"     // move a random replica to a node without one
	FaultTransfer Fault = "transfer" // hand a random shard's leadership to another voter
	FaultSplit    Fault = "split"    // split a random shard at its middle key
)

// PlacementFaults lists the admin-operation faults.
func PlacementFaults() []Fault { return []Fault{FaultMove, FaultTransfer, FaultSplit} }

// ProcessFaults and NetworkFaults list the faults of each family.
func ProcessFaults() []Fault { return []Fault{FaultKill, FaultPause} }

// NetworkFaults lists the faults that need a Net.
func NetworkFaults() []Fault {
	return []Fault{FaultPartition, FaultBridge, FaultOneWay, FaultLossy, FaultSlow}
}

// Nemesis injects one fault step at a time, seeded. Process faults pile
// up to MaxDown nodes (down or paused) and are undone by later steps; a
// network fault replaces the previous one. Not safe for concurrent use.
type Nemesis struct {
	Cluster *Cluster
	Net     *Net // nil without network namespaces
	Rec     *Recorder
	Rng     *rand.Rand
	Faults  []Fault
	MaxDown int
	// MinGap and MaxGap bound the time between steps.
	MinGap, MaxGap time.Duration
	// AdminTimeout bounds each HTTP request of an admin fault (0: 20 s).
	// A step holds the faults in place until it returns, so a director
	// that must keep to its schedule sets it shorter.
	AdminTimeout time.Duration
	// Log receives a line per step (nil: none).
	Log func(format string, args ...any)
	// Custom injects the faults of Faults that are none of the above
	// (disk faults: diskfault.go).
	Custom map[Fault]func(*Nemesis) error

	counts   map[string]int
	netFault bool
	// netCuts: the network fault in place cuts a link (a partition, a
	// bridge, a one-way cut), where loss and a slow link only degrade.
	netCuts bool
}

func (nm *Nemesis) event(kind, format string, args ...any) {
	if nm.counts == nil {
		nm.counts = map[string]int{}
	}
	nm.counts[kind]++
	nm.Rec.Event(format, args...)
	if nm.Log != nil {
		nm.Log("nemesis: "+format, args...)
	}
}

// Counts returns how many times each step ran, as "kind=n ...".
func (nm *Nemesis) Counts() string {
	parts := make([]string, 0, len(nm.counts))
	for k, v := range nm.counts {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Run steps until stop is closed, the deadline passes, or maxSteps steps
// have run.
func (nm *Nemesis) Run(stop <-chan struct{}, until time.Time, maxSteps int) error {
	for i := 0; i < maxSteps; i++ {
		gap := nm.MinGap + time.Duration(nm.Rng.Int64N(int64(nm.MaxGap-nm.MinGap)+1))
		if time.Now().Add(gap).After(until) {
			return nil
		}
		t := time.NewTimer(gap) // how long the current faults last
		select {
		case <-stop:
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := nm.Step(); err != nil {
			return err
		}
	}
	return nil
}

// down returns the nodes that are down or paused.
func (nm *Nemesis) down() (killed, paused []*Node) {
	for _, n := range nm.Cluster.Nodes {
		switch {
		case !n.Running():
			killed = append(killed, n)
		case n.Paused():
			paused = append(paused, n)
		}
	}
	return killed, paused
}

// Step injects or undoes one fault.
func (nm *Nemesis) Step() error {
	killed, paused := nm.down()
	// Undo a process fault half the time there is one.
	if len(killed)+len(paused) > 0 && (len(killed)+len(paused) >= nm.MaxDown || nm.Rng.IntN(2) == 0) {
		if len(killed) > 0 && (len(paused) == 0 || nm.Rng.IntN(2) == 0) {
			n := killed[nm.Rng.IntN(len(killed))]
			nm.event("restart", "restart node %d", n.Spec.ID)
			return n.Start()
		}
		n := paused[nm.Rng.IntN(len(paused))]
		nm.event("resume", "SIGCONT node %d", n.Spec.ID)
		n.Resume()
		return nil
	}
	f := nm.Faults[nm.Rng.IntN(len(nm.Faults))]
	if do := nm.Custom[f]; do != nil {
		return do(nm)
	}
	switch f {
	case FaultMove, FaultTransfer, FaultSplit:
		nm.admin(f)
		return nil
	}
	if f == FaultKill || f == FaultPause {
		up := nm.Cluster.Live()
		if len(up) == 0 {
			return nil
		}
		n := up[nm.Rng.IntN(len(up))]
		if f == FaultKill {
			nm.event("kill", "kill -9 node %d", n.Spec.ID)
			n.Kill()
		} else {
			nm.event("pause", "SIGSTOP node %d", n.Spec.ID)
			n.Pause()
		}
		return nil
	}
	return nm.network(f)
}

// network replaces the current network fault with f (or, one time in
// four, just heals it).
func (nm *Nemesis) network(f Fault) error {
	if nm.netFault {
		if err := nm.Net.Heal(); err != nil {
			return err
		}
		nm.netFault, nm.netCuts = false, false
		if nm.Rng.IntN(4) == 0 {
			nm.event("heal", "heal the network")
			return nil
		}
	}
	n := len(nm.Cluster.Nodes)
	perm := nm.Rng.Perm(n)
	for i := range perm {
		perm[i]++ // node numbers start at 1
	}
	var err error
	switch f {
	case FaultPartition:
		k := 1 + nm.Rng.IntN((n-1)/2) // the minority's size
		nm.event("partition", "partition %v | %v", perm[:k], perm[k:])
		err = nm.Net.Partition(perm[:k], perm[k:])
	case FaultBridge:
		nm.event("bridge", "cut %d <-> %d (the others bridge them)", perm[0], perm[1])
		err = nm.Net.Cut(perm[0], perm[1])
	case FaultOneWay:
		nm.event("oneway", "node %d drops everything from node %d", perm[1], perm[0])
		err = nm.Net.Drop(perm[0], perm[1])
	case FaultLossy:
		loss := 5 + nm.Rng.IntN(16)
		if nm.Net.Netem {
			nm.event("lossy", "lose %d%% between peers, delay 20ms ± 15ms", loss)
		} else {
			nm.event("lossy", "lose %d%% between peers (no netem: no delay)", loss)
		}
		err = nm.Net.Lossy(loss, 20, 15)
	case FaultSlow:
		nm.event("slow", "node %d sends at 256 kbit/s", perm[0])
		err = nm.Net.Slow(perm[0], 256)
	default:
		return fmt.Errorf("chaos: unknown fault %q", f)
	}
	nm.netFault = true
	nm.netCuts = f == FaultPartition || f == FaultBridge || f == FaultOneWay
	return err
}

// Heal undoes every fault: the network healed, paused nodes continued,
// killed nodes restarted.
func (nm *Nemesis) Heal() error {
	if nm.Net != nil {
		if err := nm.Net.Heal(); err != nil {
			return err
		}
		nm.netFault, nm.netCuts = false, false
	}
	killed, paused := nm.down()
	for _, n := range paused {
		n.Resume()
	}
	for _, n := range killed {
		if err := n.Start(); err != nil {
			return err
		}
	}
	nm.Rec.Event("heal everything")
	return nil
}
