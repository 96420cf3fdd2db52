package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Disk faults on real processes go through shardnode's testing knob
// FLOTILLA_TEST_FAULTS (cmd/shardnode/testknobs.go): each node's WAL and
// pebble store run on internal/vfs's fault-injecting file system, driven
// by a control file of the node's own that the node re-reads when it
// changes. Real block-device faults (device-mapper's flakey, delay and
// error targets on a loop device) would need a kernel with CONFIG_MD and
// CONFIG_BLK_DEV_DM; where the tests were written it has neither.

// The disk faults.
const (
	// FaultFsync makes every sync of one node fail. The node must stop by
	// itself (fail-stop): exit non-zero, promptly, saying why; it is
	// restarted on a healthy disk by a later step.
	FaultFsync Fault = "fsync-error"
	// FaultSlowDisk makes one node's syncs take 50 to 300 ms (replacing
	// the previous slow node, or one time in four just ending it).
	FaultSlowDisk Fault = "slow-disk"
)

// DiskFaults lists the disk faults.
func DiskFaults() []Fault { return []Fault{FaultFsync, FaultSlowDisk} }

// Disk injects disk faults into a cluster whose nodes run with the knob
// (Env). Not safe for concurrent use (the Nemesis calls it from its one
// goroutine).
type Disk struct {
	// Dir holds the control files, one per node.
	Dir string
	// ExitTimeout bounds how long a node whose syncs fail may take to
	// stop. Default 10s.
	ExitTimeout time.Duration
	// Stops lists the fail-stops seen, in order.
	Stops []FailStop

	slow int // the node with a slow disk, 0 if none
}

// FailStop is one node's observed stop after its syncs began to fail.
type FailStop struct {
	Node  int
	Scope string        // which files' syncs failed: "all", "wal" or "kv"
	After time.Duration // from the fault's injection to the process's end
	Exit  string        // how it ended
	Line  string        // the log line that names the error
}

func (d *Disk) control(id int) string {
	return filepath.Join(d.Dir, fmt.Sprintf("node%d.faults", id))
}

// Env is the environment entry that gives node id its control file.
func (d *Disk) Env(id int) string { return "FLOTILLA_TEST_FAULTS=" + d.control(id) }

// Set replaces node id's faults with text (control file syntax); the
// node applies it within its poll interval, or at its next start.
func (d *Disk) Set(id int, text string) error {
	tmp := d.control(id) + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, d.control(id))
}

// Custom returns the faults for Nemesis.Custom.
func (d *Disk) Custom() map[Fault]func(*Nemesis) error {
	return map[Fault]func(*Nemesis) error{FaultFsync: d.Fsync, FaultSlowDisk: d.Slow}
}

// Fsync makes a random live node's syncs fail (all its files, only the
// WAL's or only pebble's), waits for the node to exit by itself, checks
// that it exited non-zero with a log line naming the error, gives it a
// healthy disk again and leaves it down for a later restart step.
func (d *Disk) Fsync(nm *Nemesis) error {
	up := nm.Cluster.Live()
	if len(up) == 0 {
		return nil
	}
	n := up[nm.Rng.IntN(len(up))]
	scope := []string{"all", "wal", "kv"}[nm.Rng.IntN(3)]
	rule := "fail-sync"
	if scope != "all" {
		rule += " " + scope
	}
	nm.event(string(FaultFsync), "node %d: every sync fails (%s)", n.Spec.ID, scope)
	start := time.Now()
	if err := d.Set(n.Spec.ID, rule+"\n"); err != nil {
		return err
	}
	timeout := d.ExitTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	exit, ok := n.waitExit(timeout)
	took := time.Since(start)
	// Whatever happened, the disk is healthy for the next start.
	if err := d.Set(n.Spec.ID, ""); err != nil {
		return err
	}
	if d.slow == n.Spec.ID {
		d.slow = 0
	}
	if !ok {
		return fmt.Errorf("node %d's syncs have failed for %v and it still runs: no fail-stop", n.Spec.ID, timeout)
	}
	n.Kill() // reaps the exited process: the node is down
	if exit.code == 0 || exit.signaled {
		return fmt.Errorf("node %d stopped after a failed fsync with %s: want a non-zero exit status", n.Spec.ID, exit.how)
	}
	line, err := n.lastRunLine(isFailStopLine)
	if err != nil {
		return fmt.Errorf("node %d stopped (%s) after a failed fsync: %w", n.Spec.ID, exit.how, err)
	}
	d.Stops = append(d.Stops, FailStop{Node: n.Spec.ID, Scope: scope, After: took, Exit: exit.how, Line: line})
	nm.Rec.Event("node %d stopped by itself after %v: %s", n.Spec.ID, took.Round(time.Millisecond), exit.how)
	return nil
}

// Slow ends the current slow disk, and (three times in four) makes a
// random node's syncs slow, each taking 50 to 300 ms more.
func (d *Disk) Slow(nm *Nemesis) error {
	if d.slow != 0 {
		if err := d.Set(d.slow, ""); err != nil {
			return err
		}
		d.slow = 0
		if nm.Rng.IntN(4) == 0 {
			nm.event("fast-disk", "every disk is fast again")
			return nil
		}
	}
	id := nm.Cluster.Nodes[nm.Rng.IntN(len(nm.Cluster.Nodes))].Spec.ID
	nm.event(string(FaultSlowDisk), "node %d: every sync takes 50-300 ms more", id)
	d.slow = id
	return d.Set(id, "delay-sync 50ms 300ms\n")
}

// exitState is how a process ended.
type exitState struct {
	code     int
	signaled bool
	how      string
}

// waitExit waits up to timeout for the node's process to end by itself.
func (n *Node) waitExit(timeout time.Duration) (exitState, bool) {
	n.mu.Lock()
	cmd, exited := n.mu.cmd, n.mu.exited
	n.mu.Unlock()
	if cmd == nil {
		return exitState{}, false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		return exitState{}, false
	}
	ps := cmd.ProcessState
	return exitState{code: ps.ExitCode(), signaled: ps.ExitCode() == -1, how: ps.String()}, true
}

// isFailStopLine reports whether l is shardnode's last word after an
// injected failed fsync: its own ("shardnode: node 2 stopped after a
// fatal storage error: ...", or, if the node was still starting, the
// error that stopped the start) or pebble's (a failed sync inside pebble).
func isFailStopLine(l string) bool {
	return strings.Contains(l, "injected fsync error") &&
		(strings.HasPrefix(l, "shardnode: ") || strings.Contains(l, "fatal pebble error, stopping"))
}

// lastRunLine returns the first line of the node's log, since its last
// start, that match accepts.
func (n *Node) lastRunLine(match func(string) bool) (string, error) {
	b, err := os.ReadFile(filepath.Join(n.c.Spec.LogDir, fmt.Sprintf("node%d.log", n.Spec.ID)))
	if err != nil {
		return "", err
	}
	if i := bytes.LastIndex(b, []byte("==== start ")); i >= 0 {
		b = b[i:]
	}
	for _, l := range strings.Split(string(b), "\n") {
		if match(l) {
			return l, nil
		}
	}
	return "", errors.New("its log since its last start has no line saying it stopped because of the injected fsync error")
}
