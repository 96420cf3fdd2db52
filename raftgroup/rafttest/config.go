package rafttest

import (
	"fmt"
	"math/rand/v2"
)

// Config describes one simulation run. [ConfigForSeed] derives every field
// from the seed, so a seed alone replays a run; tests may override fields
// after that.
type Config struct {
	// Seed drives every random choice of the run.
	Seed uint64
	// Steps is the number of chaos steps in the run.
	Steps int
	// RoundSteps is the number of chaos steps between two heals; after
	// each heal liveness is checked.
	RoundSteps int
	// Nodes is the number of initial voters: 3, 5 or 7.
	Nodes int
	// MaxAddedNodes bounds the replicas the workload may add over the run
	// (node IDs are never reused, so each add creates a new node).
	MaxAddedNodes int
	// ElectionTicks is every replica's election timeout; heartbeats go
	// every tick.
	ElectionTicks int
	// LeaseReads serves reads from the leader's lease (ticks of every
	// replica advance together, so the lease's drift assumption holds).
	LeaseReads bool
	// DisableQuiesce keeps idle groups ticking.
	DisableQuiesce bool
	// LazyCommit lets followers learn commit indexes from the leader's
	// next message rather than from an empty append of their own.
	LazyCommit bool
	// DisablePreVote turns pre-vote off (only without LeaseReads, which
	// wants the default protections).
	DisablePreVote bool
	// DisableCheckQuorum turns CheckQuorum off (only without LeaseReads,
	// which require it).
	DisableCheckQuorum bool
	// MaxMsgBytes and MaxInflightMsgs are small in some runs so that
	// batching and flow control are exercised.
	MaxMsgBytes     uint64
	MaxInflightMsgs int
	// MaxCommittedBytesPerReady and MaxUncommittedBytes are tiny in some
	// runs, so committed entries are handed out over several Readys and
	// proposals are refused for a full uncommitted log (0: default).
	MaxCommittedBytesPerReady uint64
	MaxUncommittedBytes       uint64

	// DropRate is the probability that a sent message is lost.
	DropRate float64
	// DupRate is the probability that a sent message is delivered twice.
	DupRate float64
	// MaxDelayTicks bounds how many ticks a message may wait in the
	// network; among deliverable messages the order is random.
	MaxDelayTicks int
	// CrashWeight and PartitionWeight scale how often nodes crash and
	// links are cut (0 turns them off).
	CrashWeight     int
	PartitionWeight int
	// SyncApplyRate is the probability that completing a persist also
	// makes the state machine's applied state durable (it always is when
	// a snapshot is installed).
	SyncApplyRate float64
	// DriftTicks, if positive, gives every node a clock that gains or
	// loses one tick every DriftTicks to 2*DriftTicks ticks. Lease runs
	// use a drift well under one tick per election timeout (the lease's
	// documented assumption).
	DriftTicks int
	// MalformedRate is the probability that a delivery is preceded by a
	// broken copy of the message, which Step must refuse unchanged.
	MalformedRate float64
	// MaxQueuedMessages bounds the network; beyond it sends are dropped.
	MaxQueuedMessages int
	// TraceEvents is how many recent events a failure report shows.
	TraceEvents int
}

// DefaultSteps is the number of chaos steps per seed in the default run.
const DefaultSteps = 10000

// ConfigForSeed returns the run configuration for seed: cluster size,
// protocol options and fault intensities all vary from seed to seed.
// steps <= 0 means DefaultSteps.
func ConfigForSeed(seed uint64, steps int) Config {
	if steps <= 0 {
		steps = DefaultSteps
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	c := Config{
		Seed:                      seed,
		Steps:                     steps,
		RoundSteps:                2000,
		Nodes:                     []int{3, 5, 7}[r.IntN(3)],
		MaxAddedNodes:             3,
		ElectionTicks:             []int{6, 10}[r.IntN(2)],
		LeaseReads:                r.IntN(4) == 0,
		DisableQuiesce:            r.IntN(3) == 0,
		MaxMsgBytes:               []uint64{64, 1 << 10, 1 << 20}[r.IntN(3)],
		MaxInflightMsgs:           []int{2, 16, 256}[r.IntN(3)],
		DropRate:                  []float64{0, 0.02, 0.1, 0.3}[r.IntN(4)],
		DupRate:                   []float64{0, 0.05, 0.2}[r.IntN(3)],
		MaxDelayTicks:             r.IntN(4),
		CrashWeight:               []int{0, 1, 4}[r.IntN(3)],
		PartitionWeight:           []int{0, 1, 4}[r.IntN(3)],
		SyncApplyRate:             []float64{1, 0.5, 0.1}[r.IntN(3)],
		MalformedRate:             []float64{0, 0.01}[r.IntN(2)],
		MaxCommittedBytesPerReady: []uint64{0, 0, 40}[r.IntN(3)],
		MaxUncommittedBytes:       []uint64{0, 0, 64}[r.IntN(3)],
		DriftTicks:                []int{0, 0, 3, 20}[r.IntN(4)],
		MaxQueuedMessages:         4096,
		TraceEvents:               60,
	}
	if !c.LeaseReads {
		c.DisablePreVote = r.IntN(4) == 0
		c.DisableCheckQuorum = r.IntN(4) == 0
		if c.DisablePreVote && c.DriftTicks > 0 {
			// NB: without pre-vote a voter whose clock runs fast times out
			// first every round and, log stale or not, deposes every
			// candidate: elections need clocks that roughly agree.
			c.DriftTicks = 20
		}
	} else {
		c.ForceLeaseReads()
	}
	// NB: drawn last, so that each seed keeps the rest of the
	// configuration it had before this option existed.
	c.LazyCommit = r.IntN(2) == 0
	return c
}

// ForceLeaseReads turns c into a lease-read run (for long runs that hunt
// lease bugs: only a quarter of seeds use leases by default).
//
// The lease assumes a heartbeat's answer arrives well within the margin by
// which the lease is shorter than the election timeout (raftgroup's doc),
// so lease runs delay messages by at most one tick: a round trip of two.
func (c *Config) ForceLeaseReads() {
	c.LeaseReads, c.DisablePreVote, c.DisableCheckQuorum = true, false, false
	c.MaxDelayTicks = min(c.MaxDelayTicks, 1)
	if c.DriftTicks > 0 {
		c.DriftTicks = 4 * c.ElectionTicks
	}
}

func (c Config) String() string {
	return fmt.Sprintf("nodes=%d election=%d lease=%t quiesce=%t lazycommit=%t prevote=%t checkquorum=%t msgbytes=%d inflight=%d drop=%.2f dup=%.2f delay=%d drift=%d crash=%d partition=%d syncapply=%.1f steps=%d",
		c.Nodes, c.ElectionTicks, c.LeaseReads, !c.DisableQuiesce, c.LazyCommit, !c.DisablePreVote, !c.DisableCheckQuorum, c.MaxMsgBytes, c.MaxInflightMsgs,
		c.DropRate, c.DupRate, c.MaxDelayTicks, c.DriftTicks, c.CrashWeight, c.PartitionWeight, c.SyncApplyRate, c.Steps)
}
