package raftbench

import (
	"errors"
	"fmt"
)

// Replica is one in-memory replica of the Raft library under test. M is
// the library's message type. The driver is written once against this
// interface, so both libraries are driven by the same code.
type Replica[M any] interface {
	Campaign() error
	// Propose makes n proposals of data at once, through the library's
	// best API for a batch.
	Propose(data []byte, n int) error
	// HandleReady processes one Ready if there is one: persist it to the
	// replica's MemoryStorage, append its messages to out, count what it
	// applies, Advance. It reports whether there was a Ready.
	HandleReady(out []M) ([]M, bool, error)
	Step(m M) error
	// AppliedProposals counts applied entries that carry data.
	AppliedProposals() int
	AppliedIndex() uint64
	Compact(i uint64) error
	IsLeader() bool
}

// compactEvery is how many applied entries accumulate before the driver
// compacts the storages.
const compactEvery = 4096

// Cluster is three replicas wired in memory; node i has ID i+1 and node 0
// is made leader.
type Cluster[M any, R Replica[M]] struct {
	nodes []R
	// dest returns the index in nodes of m's destination.
	dest      func(m M) int
	queue     []M
	spare     []M
	proposed  int
	compacted uint64
}

// NewCluster wires nodes together and elects nodes[0]; dest maps a message
// to the index of its destination in nodes.
func NewCluster[M any, R Replica[M]](nodes []R, dest func(M) int) (*Cluster[M, R], error) {
	c := &Cluster[M, R]{nodes: nodes, dest: dest}
	if err := c.nodes[0].Campaign(); err != nil {
		return nil, err
	}
	if err := c.settle(c.nodes[0].IsLeader); err != nil {
		return nil, fmt.Errorf("electing node 1: %w", err)
	}
	return c, nil
}

// Round proposes batch entries of data at the leader and runs the group
// until the leader has applied them.
func (c *Cluster[M, R]) Round(data []byte, batch int) error {
	leader := c.nodes[0]
	if err := leader.Propose(data, batch); err != nil {
		return err
	}
	c.proposed += batch
	if err := c.settle(func() bool { return leader.AppliedProposals() >= c.proposed }); err != nil {
		return err
	}
	return c.maybeCompact()
}

// settle handles Readys and delivers messages until done reports true.
func (c *Cluster[M, R]) settle(done func() bool) error {
	for !done() {
		busy := false
		for _, n := range c.nodes {
			var had bool
			var err error
			if c.queue, had, err = n.HandleReady(c.queue); err != nil {
				return err
			}
			busy = busy || had
		}
		msgs := c.queue
		c.queue = c.spare[:0]
		for _, m := range msgs {
			busy = true
			if err := c.nodes[c.dest(m)].Step(m); err != nil {
				return err
			}
		}
		clear(msgs) // drop references to delivered entries
		c.spare = msgs[:0]
		if !busy {
			return errors.New("raftbench: group went idle before reaching its goal")
		}
	}
	return nil
}

// maybeCompact discards, on every replica, the log entries every replica
// has applied, once enough have accumulated.
func (c *Cluster[M, R]) maybeCompact() error {
	low := c.nodes[0].AppliedIndex()
	for _, n := range c.nodes[1:] {
		low = min(low, n.AppliedIndex())
	}
	if low < c.compacted+compactEvery {
		return nil
	}
	for _, n := range c.nodes {
		if err := n.Compact(low); err != nil {
			return err
		}
	}
	c.compacted = low
	return nil
}

// SettleAll runs the group until every replica has applied every
// proposal (followers learn the last commit index one exchange after the
// leader).
func (c *Cluster[M, R]) SettleAll() error {
	return c.settle(func() bool {
		for _, n := range c.nodes {
			if n.AppliedProposals() < c.proposed {
				return false
			}
		}
		return true
	})
}

// Check verifies, after SettleAll, that every replica applied want
// proposals and that the storages were compacted at least once.
func (c *Cluster[M, R]) Check(want int) error {
	for i, n := range c.nodes {
		if got := n.AppliedProposals(); got != want {
			return fmt.Errorf("raftbench: node %d applied %d proposals, want %d", i+1, got, want)
		}
	}
	if c.compacted == 0 {
		return errors.New("raftbench: storages never compacted")
	}
	return nil
}
