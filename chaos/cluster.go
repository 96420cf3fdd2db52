package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The cluster's key layout: --shards initial shards split evenly over
// fmt.Sprintf(KeyFormat, i) for i below KeySpace, so keys of that form
// spread over every shard and a key's shard is known from its number.
const (
	KeyFormat = "k%06d"
	KeySpace  = 1_000_000
)

// NodeSpec is where one node listens and keeps its data.
type NodeSpec struct {
	ID         int
	RaftAddr   string // host:port, in every node's --peers
	ClientAddr string // RESP
	HTTPAddr   string
	DataDir    string
	// GossipAddr is the node's gossip address in a placement cluster.
	GossipAddr string
	// Netns, when set, is the network namespace the process runs in
	// (through ip netns exec).
	Netns string
	// Args are added to the node's command line; Env to its environment
	// (testing knobs such as FLOTILLA_TEST_FAULTS).
	Args, Env []string
}

// ClusterSpec describes a static cluster of shardnode processes.
type ClusterSpec struct {
	Binary string // the shardnode binary
	Nodes  []NodeSpec
	Shards int
	// LogDir receives one log file per node (stdout and stderr of every
	// start, appended).
	LogDir string
	// Placement: the nodes form a placement-managed cluster (gossip,
	// --bootstrap-expect with every node, 3 replicas per shard) instead
	// of a static one.
	Placement bool
	// DeadTimeout is the placement nodes' --dead-timeout (0: 20s, longer
	// than a run's kills last, so the driver does not re-replicate).
	DeadTimeout time.Duration
}

// Node is one shardnode process slot: it is running, paused, or down.
// Its methods are safe for concurrent use.
type Node struct {
	Spec NodeSpec
	c    *Cluster

	mu struct {
		sync.Mutex
		cmd    *exec.Cmd
		exited chan struct{} // closed when cmd has been waited for
		paused bool
		starts int
	}
}

// Cluster is a set of Nodes started from one spec.
type Cluster struct {
	Spec  ClusterSpec
	Nodes []*Node
}

// NewCluster makes the node slots; nothing runs until Start.
func NewCluster(spec ClusterSpec) *Cluster {
	c := &Cluster{Spec: spec}
	for _, ns := range spec.Nodes {
		c.Nodes = append(c.Nodes, &Node{Spec: ns, c: c})
	}
	return c
}

func (c *Cluster) peers() string {
	parts := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		parts[i] = fmt.Sprintf("%d=%s", n.Spec.ID, n.Spec.RaftAddr)
	}
	return strings.Join(parts, ",")
}

// args is the command line of a node, as a user would type it.
func (n *Node) args() []string {
	s := n.Spec
	args := []string{"start", "--id", fmt.Sprint(s.ID), "--data-dir", s.DataDir,
		"--client-addr", s.ClientAddr, "--http-addr", s.HTTPAddr,
		"--shards", fmt.Sprint(n.c.Spec.Shards), "--key-format", KeyFormat, "--key-space", fmt.Sprint(KeySpace),
		"--log-level", "warn"}
	if n.c.Spec.Placement {
		dead := 20 * time.Second
		if n.c.Spec.DeadTimeout > 0 {
			dead = n.c.Spec.DeadTimeout
		}
		args = append(args, "--raft-addr", s.RaftAddr, "--gossip-addr", s.GossipAddr,
			"--join", n.c.Nodes[0].Spec.GossipAddr, "--bootstrap-expect", fmt.Sprint(len(n.c.Nodes)),
			"--dead-timeout", dead.String())
	} else {
		args = append(args, "--peers", n.c.peers())
	}
	args = append(args, s.Args...)
	if s.Netns != "" {
		return append([]string{"netns", "exec", s.Netns, n.c.Spec.Binary}, args...)
	}
	return args
}

// Start starts the node's process if it is down.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd != nil {
		return nil
	}
	if err := os.MkdirAll(n.Spec.DataDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(n.c.Spec.LogDir, fmt.Sprintf("node%d.log", n.Spec.ID))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.mu.starts++
	fmt.Fprintf(logf, "==== start %d at %s\n", n.mu.starts, time.Now().UTC().Format(time.RFC3339Nano))
	bin, args := n.c.Spec.Binary, n.args()
	if n.Spec.Netns != "" {
		bin = "ip"
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(n.Spec.Env) > 0 {
		cmd.Env = append(os.Environ(), n.Spec.Env...)
	}
	// The node dies with the test process, whatever kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: starting node %d: %w", n.Spec.ID, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		fmt.Fprintf(logf, "==== exited: %v\n", cmd.ProcessState)
		logf.Close()
		close(exited)
	}()
	n.mu.cmd, n.mu.exited, n.mu.paused = cmd, exited, false
	return nil
}

// signal sends sig to the running process; false if the node is down.
func (n *Node) signal(sig syscall.Signal) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd == nil {
		return false
	}
	_ = n.mu.cmd.Process.Signal(sig)
	switch sig {
	case syscall.SIGSTOP:
		n.mu.paused = true
	case syscall.SIGCONT:
		n.mu.paused = false
	}
	return true
}

// Kill kills the process with SIGKILL (paused or not) and waits until it
// is gone.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.mu.cmd, n.mu.exited
	n.mu.cmd, n.mu.paused = nil, false
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Pause stops the process with SIGSTOP; Resume continues it.
func (n *Node) Pause() bool  { return n.signal(syscall.SIGSTOP) }
func (n *Node) Resume() bool { return n.signal(syscall.SIGCONT) }

// Running reports whether the process is up (paused counts as up).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.cmd != nil
}

// Paused reports whether the process is stopped by SIGSTOP.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.paused
}

// Exited reports whether the process ended by itself (it was not killed
// by the harness), and then how.
func (n *Node) Exited() (bool, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd == nil {
		return false, ""
	}
	select {
	case <-n.mu.exited:
		return true, n.mu.cmd.ProcessState.String()
	default:
		return false, ""
	}
}

// Start starts every node.
func (c *Cluster) Start() error {
	for _, n := range c.Nodes {
		if err := n.Start(); err != nil {
			return err
		}
	}
	return nil
}

// Stop kills every process (the harness never needs a clean shutdown:
// kill -9 is what it tests).
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// ready asks a node's /readyz (every local shard has a known leader).
func (n *Node) ready(ctx context.Context, hc *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Spec.HTTPAddr+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// WaitReady polls /readyz of every running, unpaused node until each
// answers 200, or fails after timeout with the last reason. A node that
// exited on its own fails it at once.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		var why error
		for _, n := range c.Nodes {
			if exited, how := n.Exited(); exited {
				return fmt.Errorf("chaos: node %d exited by itself (%s); see its log", n.Spec.ID, how)
			}
			if !n.Running() || n.Paused() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := n.ready(ctx, hc)
			cancel()
			if err != nil {
				why = fmt.Errorf("node %d: %w", n.Spec.ID, err)
				break
			}
		}
		if why == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: cluster not ready after %v: %w", timeout, why)
		}
		<-poll.C
	}
}

// Live returns the nodes that are running and not paused.
func (c *Cluster) Live() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() && !n.Paused() {
			out = append(out, n)
		}
	}
	return out
}

// CheckExits returns an error naming every node whose process ended by
// itself: a node must only die when the harness kills it.
func (c *Cluster) CheckExits() error {
	var errs []error
	for _, n := range c.Nodes {
		if exited, how := n.Exited(); exited {
			errs = append(errs, fmt.Errorf("node %d exited by itself: %s", n.Spec.ID, how))
		}
	}
	return errors.Join(errs...)
}
