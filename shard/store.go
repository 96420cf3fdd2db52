package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
	"github.com/flotilladb/flotilla/wal"
)

// Store is one node: the replicas it hosts, their shared WAL, state
// machine, transport, ticker and round workers. It is safe for concurrent
// use.
type Store struct {
	opts Options
	wal  *wal.WAL
	sm   StateMachine
	kv   *KV // the default state machine, when used
	tr   transport.Sender
	tcp  *transport.Transport
	// caller forwards requests to the leader's node (nil: not possible,
	// requests fail with *NotLeaderError instead).
	caller Caller

	sched     *scheduler
	routes    routing
	snapSlots chan struct{}
	m         counters
	// awake is the set of replicas the ticker ticks (awake.go).
	awake awakeSet
	// dead is the nodes membership declared dead (deadnode.go).
	dead deadSet

	mu struct {
		sync.RWMutex
		replicas map[ShardID]*replica
		// tombstones: shards whose replica left this node since it
		// started; a late message for one must not re-create it
		// (lifecycle.go).
		tombstones map[ShardID]struct{}
	}

	ctx     context.Context
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
	failErr atomic.Pointer[error]
	// failed is closed by fail (see Failed).
	failed chan struct{}
	// clock0 is the origin of the tick clock (tickclock.go).
	clock0 time.Time
}

// Open opens (or creates) the node in opts.Dir, recovers every shard it
// hosts from the WAL and the state machine, bootstraps the initial shards
// of a new cluster, and starts the ticker and the workers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{opts: opts, sched: newScheduler(), closing: make(chan struct{}), failed: make(chan struct{}),
		clock0: time.Now(), snapSlots: make(chan struct{}, DefaultSnapshotSendLimit)}
	s.mu.replicas = make(map[ShardID]*replica)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.openStorage(); err != nil {
		return nil, err
	}
	if err := s.openTransport(); err != nil {
		s.closeStorage()
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		s.closeTransport()
		s.closeStorage()
		return nil, err
	}
	s.start()
	s.opts.Logger.Info("shard: store open", "options", s.opts.String(), "shards", len(s.mu.replicas))
	return s, nil
}

func (s *Store) openStorage() error {
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	if err := checkIdentity(s.opts.Dir, s.opts.NodeID, s.opts.ClusterID); err != nil {
		return err
	}
	wo := s.opts.WAL
	wo.Dir = filepath.Join(s.opts.Dir, "wal")
	if wo.Logger == nil {
		wo.Logger = s.opts.Logger
	}
	w, err := wal.Open(wo)
	if err != nil {
		return fmt.Errorf("shard: opening WAL: %w", err)
	}
	s.wal = w
	if s.opts.StateMachine != nil {
		s.sm = s.opts.StateMachine
		return nil
	}
	ko := s.opts.KV
	if ko.Logger == nil {
		ko.Logger = s.opts.Logger
	}
	kv, err := OpenKV(filepath.Join(s.opts.Dir, "kv"), ko)
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("shard: opening state machine: %w", err)
	}
	s.kv, s.sm = kv, kv
	return nil
}

func (s *Store) openTransport() error {
	if s.opts.Transport != nil {
		s.tr = s.opts.Transport
		s.caller = s.opts.Caller
		if c, ok := s.opts.Transport.(Caller); ok && s.caller == nil {
			s.caller = c
		}
		return nil
	}
	if len(s.opts.Peers) == 0 && s.opts.Resolver == nil {
		return nil // a single node sends nothing
	}
	to := s.opts.TransportOptions
	to.NodeID, to.ClusterID = s.opts.NodeID, s.opts.ClusterID
	to.ListenAddr = s.opts.ListenAddr
	if to.ListenAddr == "" {
		to.ListenAddr = s.opts.Peers[s.opts.NodeID]
	}
	if s.opts.Resolver != nil {
		to.Resolver = s.opts.Resolver
	} else {
		res := &transport.StaticResolver{}
		for id, addr := range s.opts.Peers {
			res.Set(id, addr)
		}
		to.Resolver = res
	}
	if to.Logger == nil {
		to.Logger = s.opts.Logger
	}
	userUnreachable := to.Events.PeerUnreachable
	to.Events.PeerUnreachable = func(peer raftpb.NodeID, err error) {
		s.peerUnreachable(peer)
		if userUnreachable != nil {
			userUnreachable(peer, err)
		}
	}
	tcp, err := transport.New(to, handler{s})
	if err != nil {
		return fmt.Errorf("shard: starting transport: %w", err)
	}
	// The transport also carries requests forwarded to a leader's node;
	// handler{s} answers them on the other side.
	s.tcp, s.tr, s.caller = tcp, tcp, tcp
	return nil
}

// Handler is what an externally supplied transport (Options.Transport)
// must deliver to.
func (s *Store) Handler() transport.Handler { return handler{s} }

// recover rebuilds every replica from the state machine's shard states
// (and the WAL's logs); a node with no shards bootstraps the initial ones.
func (s *Store) recover(ctx context.Context) error {
	states, err := s.sm.Load()
	if err != nil {
		return fmt.Errorf("shard: loading shard states: %w", err)
	}
	if len(states) == 0 && !s.opts.Join {
		if states, err = s.bootstrap(ctx); err != nil {
			return err
		}
	}
	for _, st := range states {
		if st.Applied == 1 && st.AppliedTerm == 1 {
			// A shard a split created, whose log start was left to its
			// replica's round when a crash came first (split.go).
			if err := s.ensureLogStart(st.Desc.ID); err != nil {
				return fmt.Errorf("shard: recovering shard %d: %w", st.Desc.ID, err)
			}
		}
		if _, err := s.addReplica(st); err != nil {
			return err
		}
	}
	return nil
}

// bootstrap creates the initial shards of a new cluster: each starts, on
// every node, from the snapshot at index 1 term 1 that holds its
// membership (raftgroup's bootstrap convention).
func (s *Store) bootstrap(ctx context.Context) ([]ShardState, error) {
	voters := []raftpb.NodeID{s.opts.NodeID}
	if len(s.opts.Peers) > 0 {
		voters = voters[:0]
		for id := range s.opts.Peers {
			voters = append(voters, id)
		}
	}
	sortNodes(voters)
	plan := s.opts.InitialShards
	if plan == nil {
		bounds := append(append([][]byte{nil}, s.opts.SplitKeys...), nil)
		for i := 0; i+1 < len(bounds); i++ {
			plan = append(plan, Descriptor{ID: s.opts.FirstShardID + ShardID(i), Start: bounds[i], End: bounds[i+1], Replicas: voters})
		}
	}
	states := make([]ShardState, 0, len(plan))
	ab := s.sm.NewApplyBatch()
	defer ab.Close()
	wb := s.wal.NewBatch()
	for _, d := range plan {
		if !containsNode(d.Replicas, s.opts.NodeID) {
			continue
		}
		id := d.ID
		vs := slices.Clone(d.Replicas)
		sortNodes(vs)
		st := ShardState{
			Desc:    Descriptor{ID: id, Start: d.Start, End: d.End, Replicas: vs, Epoch: 1},
			Applied: 1, AppliedTerm: 1,
			ConfState: raftpb.ConfState{Voters: vs},
		}
		ab.SetState(st)
		wb.Compact(id, 1, 1)
		wb.SetHardState(id, raftpb.HardState{Term: 1, Commit: 1})
		states = append(states, st)
	}
	if err := s.wal.Commit(ctx, wb); err != nil {
		return nil, fmt.Errorf("shard: bootstrap: %w", err)
	}
	if err := ab.Commit(); err != nil {
		return nil, fmt.Errorf("shard: bootstrap: %w", err)
	}
	if err := s.sm.SyncPoint(); err != nil {
		return nil, fmt.Errorf("shard: bootstrap: %w", err)
	}
	s.opts.Logger.Info("shard: bootstrapped", "shards", len(states), "voters", voters)
	return states, nil
}

// addReplica creates and registers the replica for st. If the shard has a
// replica already (a concurrent creation won), that one is returned.
func (s *Store) addReplica(st ShardState) (*replica, error) {
	return s.addReplicaCampaign(st, false)
}

// addReplicaCampaign is addReplica that, with campaign, starts an election
// at once (the node that led a split's parent does so for the new shard,
// so it has a leader without waiting out an election timeout).
func (s *Store) addReplicaCampaign(st ShardState, campaign bool) (*replica, error) {
	// NB: pending and reads are made on first use: most of 10,000 idle
	// replicas never see a request, and two empty maps cost about 400 B.
	r := &replica{id: st.Desc.ID, store: s, applied: st.Applied, appliedTerm: st.AppliedTerm}
	r.publish(st.Desc, st.ConfState)
	if err := s.logAfterImage(st); err != nil {
		return nil, err
	}
	r.storage = newRaftStorage(s.wal, r)
	g, err := s.newGroup(r)
	if err != nil {
		return nil, err
	}
	r.g = g
	if cs := st.ConfState; campaign || (len(cs.Voters) == 1 && cs.Voters[0] == s.opts.NodeID && len(cs.VotersOutgoing) == 0) {
		// Nobody else can be leader: take over now rather than after an
		// election timeout (an embedded single node is usable at once).
		g.Campaign()
	}
	r.appliedIdx.Store(uint64(st.Applied))
	r.durableIdx.Store(uint64(st.Applied))
	r.compactedIdx.Store(r.storage.first - 1)
	s.mu.Lock()
	if old := s.mu.replicas[r.id]; old != nil {
		s.mu.Unlock()
		return old, nil
	}
	s.mu.replicas[r.id] = r
	s.mu.Unlock()
	r.setAwake(true)
	s.routes.update(r)
	return r, nil
}

// logAfterImage makes st's log start after the state machine's image when
// the image is past the log's end. That happens when a snapshot was
// installed (pebble's ingest is durable at once) and the node stopped
// before the round that records the snapshot in the WAL was synced: the
// state machine then holds the image at st.Applied while the log and its
// hard state are older, and the Raft core refuses to start with an applied
// index beyond its commit index ("applied N beyond commit M";
// shard.TestLinearizableSlowDisks found it). The compaction mark is what
// that round would have written; the image is committed state, and the
// log holds nothing past it.
func (s *Store) logAfterImage(st ShardState) error {
	gs, _ := s.wal.GroupState(st.Desc.ID)
	if st.Applied <= gs.LastIndex {
		return nil
	}
	wb := s.wal.NewBatch()
	wb.Compact(st.Desc.ID, st.Applied, st.AppliedTerm)
	if err := s.wal.Commit(context.Background(), wb); err != nil {
		return fmt.Errorf("shard: shard %d: recording its installed image at %d in the log: %w", st.Desc.ID, st.Applied, err)
	}
	s.opts.Logger.Warn("shard: the state machine held an image past the log's end (a snapshot installed just before a stop); the log now starts after it",
		"shard", st.Desc.ID, "applied", st.Applied, "log_last", gs.LastIndex)
	return nil
}

// newGroup makes the Raft group of r from its applied state and its log.
func (s *Store) newGroup(r *replica) (*raftgroup.Group, error) {
	g, err := raftgroup.New(raftgroup.Config{
		ID: s.opts.NodeID, Group: r.id, Storage: r.storage, Applied: r.applied,
		ElectionTicks: s.opts.ElectionTicks, HeartbeatTicks: s.opts.HeartbeatTicks,
		LeaseReads: s.opts.LeaseReads, DisableQuiesce: s.opts.DisableQuiesce,
		LazyCommit: !s.opts.EagerCommit,
		Seed:       s.opts.Seed ^ uint64(r.id)*0x9E3779B97F4A7C15,
	})
	if err != nil {
		return nil, fmt.Errorf("shard: shard %d: %w", r.id, err)
	}
	return g, nil
}

func (s *Store) replica(id ShardID) *replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.replicas[id]
}

// start launches the workers, the ticker and the syncer.
func (s *Store) start() {
	for range s.opts.Workers {
		w := &worker{s: s}
		s.wg.Add(1)
		go w.run()
	}
	s.wg.Add(2)
	go s.runTicker()
	go s.runSyncer()
}

// runTicker ticks every awake replica once per TickInterval and flushes
// the coalesced heartbeats of the previous tick: one heartbeat frame per
// peer per tick, whatever the number of groups.
func (s *Store) runTicker() {
	defer s.wg.Done()
	clk := s.newTickClock()
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	var rs []*replica
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		if s.tr != nil {
			s.tr.FlushHeartbeats()
		}
		n, at := clk.fire()
		rs = s.awake.awakeList(rs[:0])
		for _, r := range rs {
			r.tick(n, at)
		}
		if len(rs) == 0 && cap(rs) > 0 {
			// The store went quiet: give back what the start-up, when
			// every replica was awake, left sized for all of them.
			rs = nil
			s.sched.trim()
		}
		s.mu.RLock()
		total := len(s.mu.replicas)
		s.mu.RUnlock()
		s.m.quiesced.Store(int64(total - len(rs)))
		s.m.ticks.Add(1)
	}
}

func (s *Store) replicas(dst []*replica) []*replica {
	s.mu.RLock()
	for _, r := range s.mu.replicas {
		dst = append(dst, r)
	}
	s.mu.RUnlock()
	return dst
}

// fail stops the node after a fatal storage error (fail-stop: a failed
// fsync may have lost data the page cache held).
func (s *Store) fail(err error) {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if s.failErr.CompareAndSwap(nil, &wrapped) {
		s.opts.Logger.Error("shard: fatal storage error, stopping the node", "err", err)
		close(s.failed)
		go func() { _ = s.Close() }()
	}
}

// Failed is closed when a fatal storage error (a failed WAL write or
// fsync, a failed state machine commit) has stopped the store; Err then
// says why. The store can only refuse requests from then on, so the
// process that runs it should exit (fail-stop) and be restarted, which
// recovers from what was durable: shardnode start waits on it.
func (s *Store) Failed() <-chan struct{} { return s.failed }

// Err returns the fatal error that stopped the store, if any.
func (s *Store) Err() error {
	if p := s.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the store: workers, ticker and syncer finish, pending
// requests fail with ErrClosed, a final sync point is taken (unless the
// store failed), and the WAL, state machine and transport are closed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.closing)
	s.cancel()
	s.wg.Wait()
	var errs []error
	if s.Err() == nil {
		errs = append(errs, s.sm.SyncPoint())
	}
	for _, r := range s.replicas(nil) {
		r.failAll(ErrClosed, ErrClosed)
	}
	errs = append(errs, s.closeTransport(), s.closeStorage())
	return errors.Join(errs...)
}

func (s *Store) closeTransport() error {
	if s.tcp != nil {
		return s.tcp.Close()
	}
	return nil
}

func (s *Store) closeStorage() error {
	var errs []error
	if s.sm != nil {
		errs = append(errs, s.sm.Close())
	}
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	return errors.Join(errs...)
}

// failAll fails every request waiting on r: the writes already handed to
// Raft (their outcome unknown) with proposed, the rest with err. The store
// is closing (no worker runs any more), or r's own round is destroying it.
func (r *replica) failAll(proposed, err error) {
	for _, p := range r.pending {
		for ; p != nil; p = p.next {
			p.finish(nil, proposed)
		}
	}
	for _, q := range r.reads {
		q.finish(err)
	}
	for _, q := range r.readsToApply {
		q.finish(err)
	}
	r.mu.Lock()
	for _, p := range r.mu.props {
		p.finish(nil, err)
	}
	for _, q := range r.mu.readReqs {
		q.finish(err)
	}
	r.mu.Unlock()
}

// peerUnreachable tells the groups this node leads that messages to peer
// are not getting through, so they stop streaming appends to it and probe
// instead (raftgroup.ReportUnreachable). It runs on a transport goroutine
// and only queues work.
func (s *Store) peerUnreachable(peer raftpb.NodeID) {
	for _, r := range s.replicas(nil) {
		if raftpb.NodeID(r.leader.Load()) != s.opts.NodeID {
			continue
		}
		r.mu.Lock()
		r.mu.unreachable = append(r.mu.unreachable, peer)
		r.mu.Unlock()
		s.sched.enqueue(r)
	}
}
