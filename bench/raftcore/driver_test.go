package raftcore

import (
	"errors"
	"fmt"
)

// replica is one in-memory replica of the Raft library under test. M is
// the library's message type. The driver is written once against this
// interface, so both libraries are driven by the same code.
type replica[M any] interface {
	campaign() error
	propose(data []byte) error
	// handleReady processes one Ready if there is one: persist it to the
	// replica's MemoryStorage, append its messages to out, count what it
	// applies, Advance. It reports whether there was a Ready.
	handleReady(out []M) ([]M, bool, error)
	step(m M) error
	// appliedProposals counts applied entries that carry data.
	appliedProposals() int
	appliedIndex() uint64
	compact(i uint64) error
	isLeader() bool
}

// compactEvery is how many applied entries accumulate before the driver
// compacts the storages.
const compactEvery = 4096

// cluster is three replicas wired in memory; node i has ID i+1 and node 0
// is made leader.
type cluster[M any, R replica[M]] struct {
	nodes []R
	// dest returns the index in nodes of m's destination.
	dest      func(m M) int
	queue     []M
	spare     []M
	proposed  int
	compacted uint64
}

func newCluster[M any, R replica[M]](nodes []R, dest func(M) int) (*cluster[M, R], error) {
	c := &cluster[M, R]{nodes: nodes, dest: dest}
	if err := c.nodes[0].campaign(); err != nil {
		return nil, err
	}
	if err := c.settle(c.nodes[0].isLeader); err != nil {
		return nil, fmt.Errorf("electing node 1: %w", err)
	}
	return c, nil
}

// round proposes batch entries of data at the leader and runs the group
// until the leader has applied them.
func (c *cluster[M, R]) round(data []byte, batch int) error {
	leader := c.nodes[0]
	for range batch {
		if err := leader.propose(data); err != nil {
			return err
		}
	}
	c.proposed += batch
	if err := c.settle(func() bool { return leader.appliedProposals() >= c.proposed }); err != nil {
		return err
	}
	return c.maybeCompact()
}

// settle handles Readys and delivers messages until done reports true.
func (c *cluster[M, R]) settle(done func() bool) error {
	for !done() {
		busy := false
		for _, n := range c.nodes {
			var had bool
			var err error
			if c.queue, had, err = n.handleReady(c.queue); err != nil {
				return err
			}
			busy = busy || had
		}
		msgs := c.queue
		c.queue = c.spare[:0]
		for _, m := range msgs {
			busy = true
			if err := c.nodes[c.dest(m)].step(m); err != nil {
				return err
			}
		}
		clear(msgs) // drop references to delivered entries
		c.spare = msgs[:0]
		if !busy {
			return errors.New("raftcore: group went idle before reaching its goal")
		}
	}
	return nil
}

// maybeCompact discards, on every replica, the log entries every replica
// has applied, once enough have accumulated.
func (c *cluster[M, R]) maybeCompact() error {
	low := c.nodes[0].appliedIndex()
	for _, n := range c.nodes[1:] {
		low = min(low, n.appliedIndex())
	}
	if low < c.compacted+compactEvery {
		return nil
	}
	for _, n := range c.nodes {
		if err := n.compact(low); err != nil {
			return err
		}
	}
	c.compacted = low
	return nil
}
