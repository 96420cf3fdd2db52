package chaos

import (
	"errors"
	"fmt"
)

// Isolate cuts node i from every other node, both ways, for a long fault
// that the short network faults come and go around: its rules are in the
// raw table's PREROUTING chains (node i drops what its peers send, its
// peers drop what it sends), which Heal, flushing the filter table's
// INPUT, leaves alone. Packets are dropped on arrival, silently, as a
// network would lose them (a DROP in OUTPUT would fail the sender's
// send at once). Every protocol is dropped: Raft's TCP and gossip's UDP
// and TCP alike. The test's clients, on the bridge address, still reach
// node i. Rejoin undoes it.
func (nt *Net) Isolate(i int) error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for j := 1; j <= nt.n; j++ {
		if j == i {
			continue
		}
		if err := nt.ipt(i, "-t", "raw", "-A", "PREROUTING", "-s", nt.Addr(j), "-j", "DROP"); err != nil {
			return err
		}
		if err := nt.ipt(j, "-t", "raw", "-A", "PREROUTING", "-s", nt.Addr(i), "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// Rejoin removes every isolation (the raw PREROUTING rules of all
// nodes), adding the packets they dropped to Dropped.
func (nt *Net) Rejoin() error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	var errs []error
	for i := 1; i <= nt.n; i++ {
		n, err := nt.droppedIn(i, "raw", "PREROUTING")
		if err != nil {
			errs = append(errs, err)
		}
		nt.dropped += n
		if err := nt.ipt(i, "-t", "raw", "-F", "PREROUTING"); err != nil {
			errs = append(errs, fmt.Errorf("chaos: removing node %d's isolation: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
