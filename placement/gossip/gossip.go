package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

var _ transport.Resolver = (*Gossip)(nil)

// Gossip is this node's membership in the cluster: a memberlist instance,
// its view of the members, and the event callbacks. It is safe for
// concurrent use.
type Gossip struct {
	cfg     Config // a copy; cfg.Meta is the Meta given to New
	log     *slog.Logger
	name    string
	timing  timing
	ml      *memberlist.Memberlist
	table   *table
	addr    atomic.Pointer[string] // gossip address, set once memberlist is up
	stopped chan struct{}          // closed (once, via stop) when shutting down; wakes Join's wait
	stop    sync.Once
	done    chan struct{} // closed when the dispatcher has returned

	// opMu serializes Join, UpdateMeta, Leave and Shutdown.
	opMu   sync.Mutex
	closed bool // under opMu

	meta struct {
		sync.Mutex
		m     Meta   // what this node advertises, leaving flag included
		bytes []byte // m encoded
	}
	// join is what NotifyMerge noticed during the Join in progress.
	join struct {
		sync.Mutex
		active    bool  // a Join is in progress
		conflict  error // our NodeID is live elsewhere in a seed's view
		staleSelf bool  // a seed remembers our NodeID as gone at another address
	}
}

// timing holds the durations this package derives from the profile.
type timing struct {
	reclaim   time.Duration // memberlist's DeadNodeReclaimTime
	broadcast time.Duration // how long UpdateMeta waits for its broadcast
	reconnect time.Duration // how often a Dead member is tried again
}

// reconnectFor is how long after a member was declared Dead this node
// still tries to reach it (see reconnect).
const reconnectFor = 24 * time.Hour

// New starts memberlist on cfg.BindAddr and returns once it listens. The
// node is alone until [Gossip.Join]. The local node's Join event is the
// first one delivered.
func New(cfg Config) (*Gossip, error) {
	bindIP, bindPort, advIP, advPort, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	metaBytes, err := cfg.Meta.MarshalBinary()
	if err != nil {
		return nil, err
	}
	g := &Gossip{
		cfg:     cfg,
		log:     cfg.Logger,
		name:    nodeName(cfg.Meta.NodeID),
		table:   newTable(),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
	g.cfg.SecretKey = append([]byte(nil), cfg.SecretKey...)
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.log = g.log.With("node", uint64(cfg.Meta.NodeID))
	g.meta.m, g.meta.bytes = cfg.Meta, metaBytes

	mc := baseConfig(cfg.Profile)
	g.timing = timing{reclaim: mc.DeadNodeReclaimTime, broadcast: 25 * mc.GossipInterval, reconnect: 5 * time.Second}
	if cfg.Profile == Loopback {
		g.timing.reconnect = 250 * time.Millisecond
	}
	mc.Name = g.name
	mc.Label = clusterLabel(cfg.Meta.ClusterID)
	mc.BindAddr, mc.BindPort = bindIP, bindPort
	mc.AdvertiseAddr, mc.AdvertisePort = advIP, advPort
	if len(g.cfg.SecretKey) > 0 {
		mc.SecretKey = g.cfg.SecretKey
	}
	mc.Logger = newMemberlistLogger(g.log)
	d := delegate{g}
	mc.Delegate, mc.Events, mc.Alive, mc.Merge, mc.Conflict = d, d, d, d, d
	if cfg.transport != nil {
		mc.Transport = cfg.transport
	}

	go g.dispatch()
	ml, err := memberlist.Create(mc)
	if err != nil {
		g.table.close()
		<-g.done
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	g.ml = ml
	addr := ml.LocalNode().Address()
	g.addr.Store(&addr)
	g.log.Info("gossip: started", "addr", addr, "profile", cfg.Profile.String())
	go g.reconnect()
	return g, nil
}

// reconnect heals memberships split by a long network partition.
// memberlist gossips to a member only for GossipToTheDeadTime after
// declaring it Dead (LAN 30 s) and pushes and pulls state only with
// Alive members, so when a partition outlasts that, each side holds the
// other Dead and nothing makes them speak again once the network is
// whole: the cluster stays split for good. Every timing.reconnect this
// node therefore exchanges state (memberlist's Join) with one member it
// holds Dead (not Left: those left on purpose), if it was declared Dead
// less than reconnectFor ago. In the exchange each side sees the other's
// claim that it is dead and refutes it, so both come back Alive. A
// member that is really down costs one failed dial per round.
func (g *Gossip) reconnect() {
	t := time.NewTicker(g.timing.reconnect)
	defer t.Stop()
	for {
		select {
		case <-g.stopped:
			return
		case <-t.C:
		}
		var dead []Member
		for _, m := range g.table.list() {
			if m.State == Dead && m.NodeID != g.cfg.Meta.NodeID && m.Addr != "" && time.Since(m.Since) < reconnectFor {
				dead = append(dead, m)
			}
		}
		if len(dead) == 0 {
			continue
		}
		m := dead[rand.IntN(len(dead))]
		select {
		case <-g.stopped:
			return
		default:
		}
		if g.isLeaving() {
			continue // a leaving node must not announce itself again
		}
		if _, err := g.ml.Join([]string{m.Addr}); err == nil {
			g.log.Info("gossip: reached a member held dead; state exchanged", "member", uint64(m.NodeID), "addr", m.Addr)
		}
	}
}

// dispatch delivers queued events to the callbacks until the table closes.
func (g *Gossip) dispatch() {
	defer close(g.done)
	ev := g.cfg.Events
	for {
		e, dropped, ok := g.table.next()
		if !ok {
			return
		}
		if dropped > 0 {
			g.log.Error("gossip: event callbacks fell behind; events dropped", "dropped", dropped, "limit", MaxPendingEvents)
		}
		var fn func(Member)
		switch e.kind {
		case evJoin:
			fn = ev.Join
		case evUpdate:
			fn = ev.Update
		case evDead:
			fn = ev.Dead
		case evLeave:
			fn = ev.Leave
		}
		if fn != nil {
			fn(e.m)
		}
	}
}

// Addr returns the gossip address ("ip:port") other nodes reach this one
// at: the advertise address if configured, else the bound one (with the
// real port when BindAddr asked for port 0).
func (g *Gossip) Addr() string {
	if p := g.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// Join contacts the seeds ("host:port" gossip addresses; this node's own
// address is skipped) and merges state with them. It returns how many
// seeds answered; an error if none did, or if a seed knows this node's ID
// as live at another address ([ErrNodeIDInUse]). No seeds (or only this
// node) is not an error: the node starts a cluster of its own.
//
// When a seed remembers this node's ID as failed at another address (the
// node restarted on a new port), Join waits memberlist's dead-node reclaim
// time and announces the node again, so it takes that much longer.
func (g *Gossip) Join(seeds []string) (int, error) {
	g.opMu.Lock()
	defer g.opMu.Unlock()
	if g.closed {
		return 0, ErrClosed
	}
	seeds = g.otherSeeds(seeds)
	if len(seeds) == 0 {
		return 0, nil
	}
	g.startJoinNotes()
	n, err := g.ml.Join(seeds)
	conflict, stale := g.endJoinNotes()
	if conflict != nil {
		return n, conflict
	}
	if err != nil {
		return n, fmt.Errorf("gossip: join %v: no seed answered (a seed of another cluster or with another key refuses the connection): %v", seeds, err)
	}
	if !stale {
		return n, nil
	}
	g.log.Info("gossip: the cluster remembers this node's ID as gone at another address; announcing again after the reclaim time", "wait", g.timing.reclaim)
	t := time.NewTimer(g.timing.reclaim)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.stopped:
		return n, ErrClosed
	}
	if _, err := g.ml.Join(seeds); err != nil {
		g.log.Warn("gossip: second announcement failed; push/pull will repair it", "err", err)
	}
	return n, nil
}

// otherSeeds drops empty entries, duplicates and this node's own address.
func (g *Gossip) otherSeeds(seeds []string) []string {
	self := g.Addr()
	bindIP, _, _ := splitIPPort(g.cfg.BindAddr)
	seen := make(map[string]bool, len(seeds))
	var out []string
	for _, s := range seeds {
		if s == "" || seen[s] || g.isSelf(s, self, bindIP) {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (g *Gossip) isSelf(seed, self, bindIP string) bool {
	host, port, err := net.SplitHostPort(seed)
	if err != nil {
		return false // memberlist will report it
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	norm := net.JoinHostPort(ip.String(), port)
	if norm == self {
		return true
	}
	_, selfPort, _ := net.SplitHostPort(self)
	if port != selfPort {
		return false
	}
	bound := net.ParseIP(bindIP)
	return bound.Equal(ip) || (bound.IsUnspecified() && ip.IsLoopback())
}

func (g *Gossip) startJoinNotes() {
	g.join.Lock()
	defer g.join.Unlock()
	g.join.active, g.join.conflict, g.join.staleSelf = true, nil, false
}

func (g *Gossip) endJoinNotes() (conflict error, staleSelf bool) {
	g.join.Lock()
	defer g.join.Unlock()
	g.join.active = false
	return g.join.conflict, g.join.staleSelf
}

func (g *Gossip) joining() bool {
	g.join.Lock()
	defer g.join.Unlock()
	return g.join.active
}

func (g *Gossip) noteJoinConflict(err error) {
	g.join.Lock()
	defer g.join.Unlock()
	if g.join.conflict == nil {
		g.join.conflict = err
	}
}

func (g *Gossip) noteStaleSelf() {
	g.join.Lock()
	defer g.join.Unlock()
	g.join.staleSelf = true
}

// Members returns every member this node knows, itself included, sorted
// by NodeID: live ones and the most recent Dead and Left ones (up to
// 1,024 of those; the one gone longest is forgotten first).
func (g *Gossip) Members() []Member { return g.table.list() }

// Member returns the member with node ID id, if known (in any State).
func (g *Gossip) Member(id raftpb.NodeID) (Member, bool) { return g.table.get(id) }

// Resolve implements transport.Resolver: the Raft address of a live
// member. Its errors wrap transport.ErrUnknownPeer and either
// ErrUnknownNode or ErrNodeDown.
func (g *Gossip) Resolve(id raftpb.NodeID) (string, error) {
	m, ok := g.table.get(id)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: node %d (%w)", ErrUnknownNode, id, transport.ErrUnknownPeer)
	case !m.State.Live():
		return "", fmt.Errorf("%w: node %d is %s since %s (%w)", ErrNodeDown, id, m.State, m.Since.Format(time.RFC3339), transport.ErrUnknownPeer)
	case m.RaftAddr == "":
		return "", fmt.Errorf("%w: node %d advertises no Raft address (%w)", ErrNodeDown, id, transport.ErrUnknownPeer)
	}
	return m.RaftAddr, nil
}

// isLeaving reports whether Leave has begun.
func (g *Gossip) isLeaving() bool {
	g.meta.Lock()
	defer g.meta.Unlock()
	return g.meta.m.leaving
}

// localMetaBytes returns the encoded local Meta (memberlist's NodeMeta).
func (g *Gossip) localMetaBytes() []byte {
	g.meta.Lock()
	defer g.meta.Unlock()
	return g.meta.bytes
}

// setLocalMeta stores m as the local Meta once it encodes.
func (g *Gossip) setLocalMeta(m Meta) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	g.meta.Lock()
	defer g.meta.Unlock()
	g.meta.m, g.meta.bytes = m, b
	return nil
}

// UpdateMeta advertises m in place of the current Meta (for example a new
// Capacity, or Draining) and waits until the change has been gossiped, or
// for a bounded time (then ErrBroadcastTimeout: the change still spreads).
// m's NodeID and ClusterID must be the configured ones.
func (g *Gossip) UpdateMeta(m Meta) error {
	g.opMu.Lock()
	defer g.opMu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if m.NodeID != g.cfg.Meta.NodeID || m.ClusterID != g.cfg.Meta.ClusterID {
		return fmt.Errorf("%w: node ID and cluster ID cannot change (have %d/%d, got %d/%d)",
			ErrInvalidMeta, g.cfg.Meta.NodeID, g.cfg.Meta.ClusterID, m.NodeID, m.ClusterID)
	}
	m.leaving = false
	if err := g.setLocalMeta(m); err != nil {
		return err
	}
	if err := g.ml.UpdateNode(g.timing.broadcast); err != nil {
		return fmt.Errorf("%w: meta update: %v", ErrBroadcastTimeout, err)
	}
	return nil
}

// Leave leaves the cluster gracefully, so that the others report this
// node Left rather than Dead, then shuts down. It waits up to timeout for
// the leave to be gossiped; on timeout it still shuts down and returns an
// error wrapping ErrBroadcastTimeout (peers that missed the leave will see
// the node Dead instead).
func (g *Gossip) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("gossip: leave timeout %v: must be positive", timeout)
	}
	g.opMu.Lock()
	defer g.opMu.Unlock()
	if g.closed {
		return ErrClosed
	}
	deadline := time.Now().Add(timeout)
	var errs []error
	// First advertise the leaving flag, so that peers can tell this leave
	// from a failure, then memberlist's leave message.
	g.meta.Lock()
	m := g.meta.m
	g.meta.Unlock()
	m.leaving = true
	if err := g.setLocalMeta(m); err != nil {
		errs = append(errs, err)
	} else if err := g.ml.UpdateNode(timeout / 2); err != nil {
		errs = append(errs, fmt.Errorf("%w: leaving flag: %v", ErrBroadcastTimeout, err))
	}
	rest := max(time.Until(deadline), time.Millisecond)
	if err := g.ml.Leave(rest); err != nil {
		errs = append(errs, fmt.Errorf("%w: leave: %v", ErrBroadcastTimeout, err))
	}
	errs = append(errs, g.shutdownLocked())
	return errors.Join(errs...)
}

// Shutdown stops gossip without leaving: the others will see this node
// fail (Dead) after their failure-detection time. Queued events are
// dropped; Shutdown returns once no callback runs. It is idempotent.
func (g *Gossip) Shutdown() error {
	g.stop.Do(func() { close(g.stopped) })
	g.opMu.Lock()
	defer g.opMu.Unlock()
	if g.closed {
		return nil
	}
	return g.shutdownLocked()
}

func (g *Gossip) shutdownLocked() error {
	g.closed = true
	g.stop.Do(func() { close(g.stopped) })
	err := g.ml.Shutdown()
	g.table.close()
	<-g.done
	if err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	g.log.Info("gossip: stopped")
	return nil
}
