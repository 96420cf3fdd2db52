package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Consistency chooses how a read is ordered against writes.
type Consistency uint8

const (
	// Linearizable reads see every write acknowledged before they began
	// (ReadIndex: the leader confirms its leadership with a heartbeat
	// round shared by all reads of the round). The default.
	Linearizable Consistency = iota
	// Lease reads are linearizable under the clock-drift assumption of
	// leader leases (Options.LeaseReads; without it they behave as
	// Linearizable) and cost no heartbeat round.
	Lease
	// Stale reads return this node's applied state at once, which may lag
	// the leader's. Served by any replica, leader or not.
	Stale
)

func consistency(c []Consistency) Consistency {
	if len(c) > 0 {
		return c[0]
	}
	return Linearizable
}

// Get returns the value of key (found false if absent). Consistency
// defaults to Linearizable. A request reaching a node that does not lead
// the key's shard is forwarded to the leader's node.
func (s *Store) Get(ctx context.Context, key []byte, c ...Consistency) (v []byte, found bool, err error) {
	err = s.retryMoved(ctx, func(ctx context.Context) error {
		v, found, err = s.get(ctx, key, c...)
		return err
	})
	return v, found, err
}

// maxLeaderHops bounds how often retryMoved follows a moving leader.
const maxLeaderHops = 3

// retryMoved runs op, and again while it fails with ErrShardMoved (the
// shard split or its replica moved while the request was routed to it:
// nothing was applied) or finds no route in a placement cluster, after a
// tick for the routes to catch up, until the request's deadline. It also
// retries, at most maxLeaderHops times, a request forwarded to a node
// that had stopped leading the shard by the time it arrived (a
// *NotLeaderError naming another leader: nothing was applied), so a
// leadership change under way does not reach the client as an error.
func (s *Store) retryMoved(ctx context.Context, op func(ctx context.Context) error) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	hops := 0
	for {
		err := op(ctx)
		retry := s.routeStale(err)
		if _, ok := s.forwardTarget(err); ok && !retry && hops < maxLeaderHops {
			hops++
			retry = true
		}
		if !retry || !s.awaitElection(ctx) {
			return err
		}
	}
}

// routeStale reports whether err says the request went by a route that
// is stale: the shard moved or split (ErrShardMoved), or, with a
// Directory, where every key belongs to some shard, no route was found
// (the directory has not loaded yet, a node just started, or is stale),
// which the next tick may mend.
func (s *Store) routeStale(err error) bool {
	return errors.Is(err, ErrShardMoved) || (s.opts.Directory != nil && errors.Is(err, ErrNoShard))
}

// retryable reports whether retryMoved may retry after err: a stale
// route, or another node leading the shard.
func (s *Store) retryable(err error) bool {
	_, ok := s.forwardTarget(err)
	return ok || s.routeStale(err)
}

// followLeader runs op, and again, at most maxLeaderHops times, while it
// fails with a *NotLeaderError naming another node this store can forward
// to (nothing was applied; see retryMoved).
func (s *Store) followLeader(ctx context.Context, op func(ctx context.Context) error) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for hops := 0; ; hops++ {
		err := op(ctx)
		if _, ok := s.forwardTarget(err); !ok || hops >= maxLeaderHops || !s.awaitElection(ctx) {
			return err
		}
	}
}

func (s *Store) get(ctx context.Context, key []byte, c ...Consistency) ([]byte, bool, error) {
	d, err := s.route(key)
	if err != nil {
		return nil, false, err
	}
	cons := consistency(c)
	req := forwardRequest{kind: fwdRead, consistency: cons, shard: d.id, parts: [][]byte{key}}
	var v []byte
	var found bool
	ans, forwarded, err := s.localOrForward(ctx, d, req, func() (err error) {
		v, found, err = s.getLocal(ctx, d.r, key, cons)
		return err
	})
	if !forwarded {
		return v, found, err
	}
	if err != nil {
		return nil, false, err
	}
	if len(ans) == 0 {
		return nil, false, errBadForward
	}
	return ans[1:], ans[0] == 1, nil
}

// localOrForward serves a read of d's shard with local when this node
// hosts the shard, and forwards req to the shard's leader when it does not
// or local says another node leads; forwarded reports that ans (or err)
// is that node's answer rather than local's outcome.
func (s *Store) localOrForward(ctx context.Context, d dest, req forwardRequest, local func() error) (ans []byte, forwarded bool, err error) {
	if d.r == nil {
		ans, err = s.forwardAnywhere(ctx, d.id, req)
		return ans, true, err
	}
	lerr := local()
	to, ok := s.forwardTarget(lerr)
	if !ok {
		return nil, false, lerr
	}
	ans, err = s.forward(ctx, to, req)
	return ans, true, err
}

func (s *Store) getLocal(ctx context.Context, r *replica, key []byte, c Consistency) ([]byte, bool, error) {
	kv, err := s.localReadKV(ctx, r, c)
	if err != nil {
		return nil, false, err
	}
	v, found, err := kv.Get(r.id, key)
	return v, found, movedIfOutOfRange(err)
}

// localReadKV waits until r's state machine may serve a read at
// consistency c, and returns the KV to read it from.
func (s *Store) localReadKV(ctx context.Context, r *replica, c Consistency) (*KV, error) {
	kv, err := s.defaultKV()
	if err != nil {
		return nil, err
	}
	if c == Stale {
		r.requests.Add(1) // (other reads count in addRead)
	}
	if err := s.readBarrier(ctx, r, c); err != nil {
		return nil, err
	}
	return kv, nil
}

// movedIfOutOfRange reports a key outside the replica's range (a split or
// a move changed it since the request was routed) as ErrShardMoved, which
// the caller retries after the routes catch up.
func movedIfOutOfRange(err error) error {
	if errors.Is(err, ErrKeyOutOfRange) {
		return fmt.Errorf("%w: %w", ErrShardMoved, err)
	}
	return err
}

// forwardTarget reports whether err says another known node leads the
// shard and this store can forward there.
func (s *Store) forwardTarget(err error) (raftpb.NodeID, bool) {
	if err == nil {
		// NB: before the declaration below, which escapes to the heap
		// (errors.As takes its address): twice per successful write.
		return 0, false
	}
	var nl *NotLeaderError
	if s.caller == nil || !errors.As(err, &nl) || nl.Leader == raftpb.None || nl.Leader == s.opts.NodeID {
		return 0, false
	}
	return nl.Leader, true
}

// Scan returns up to limit pairs with start <= key < end (end empty: no
// upper bound), in key order, walking the shards in order. Each shard is
// read with the given consistency (at its leader, forwarding if needed);
// the scan as a whole is not a single-point-in-time view across shards.
func (s *Store) Scan(ctx context.Context, start, end []byte, limit int, c ...Consistency) (kvs []KeyValue, err error) {
	err = s.retryMoved(ctx, func(ctx context.Context) error {
		kvs, err = s.scan(ctx, start, end, limit, c...)
		return err
	})
	return kvs, err
}

func (s *Store) scan(ctx context.Context, start, end []byte, limit int, c ...Consistency) ([]KeyValue, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	cons := consistency(c)
	var out []KeyValue
	for _, d := range s.scanPlan(start, end) {
		lo, hi := start, end
		if bytes.Compare(d.Start, lo) > 0 {
			lo = d.Start
		}
		if len(d.End) > 0 && (len(hi) == 0 || bytes.Compare(d.End, hi) < 0) {
			hi = d.End
		}
		var kvs []KeyValue
		var err error
		if r := s.replica(d.ID); r != nil && r.descriptor().Initialized() {
			kvs, err = s.scanLocal(ctx, r, lo, hi, limit-len(out), cons)
			if to, ok := s.forwardTarget(err); ok {
				kvs, err = s.forwardScan(ctx, to, r.id, lo, hi, limit-len(out), cons)
			}
		} else {
			kvs, err = s.scanRemote(ctx, d.ID, lo, hi, limit-len(out), cons)
		}
		if err != nil {
			return out, err
		}
		out = append(out, kvs...)
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

func (s *Store) scanLocal(ctx context.Context, r *replica, lo, hi []byte, limit int, c Consistency) ([]KeyValue, error) {
	kv, err := s.defaultKV()
	if err != nil {
		return nil, err
	}
	if err := s.readBarrier(ctx, r, c); err != nil {
		return nil, err
	}
	// The caller asked for [lo, hi) by its view of the shard's range; if
	// the range is narrower now (a split), part of it lives elsewhere.
	if d := r.descriptor(); bytes.Compare(lo, d.Start) < 0 || (len(d.End) > 0 && (len(hi) == 0 || bytes.Compare(hi, d.End) > 0)) {
		return nil, fmt.Errorf("%w: shard %d covers %v, not all of [%q, %q)", ErrShardMoved, r.id, d, lo, hi)
	}
	return kv.Scan(r.id, lo, hi, limit)
}

func (s *Store) forwardScan(ctx context.Context, to raftpb.NodeID, id ShardID, lo, hi []byte, limit int, c Consistency) ([]KeyValue, error) {
	ans, err := s.forward(ctx, to, scanRequest(id, lo, hi, limit, c))
	if err != nil {
		return nil, err
	}
	return decodePairs(ans)
}

func scanRequest(id ShardID, lo, hi []byte, limit int, c Consistency) forwardRequest {
	return forwardRequest{kind: fwdScan, consistency: c, shard: id,
		parts: [][]byte{lo, hi, binary.AppendUvarint(nil, uint64(limit))}}
}

// Put sets key to value.
func (s *Store) Put(ctx context.Context, key, value []byte) error {
	_, err := s.Exec(ctx, Command{Ops: []Op{{Kind: OpPut, Key: key, Value: value}}})
	return err
}

// Delete removes key (deleting an absent key is not an error).
func (s *Store) Delete(ctx context.Context, key []byte) error {
	_, err := s.Exec(ctx, Command{Ops: []Op{{Kind: OpDelete, Key: key}}})
	return err
}

// CompareAndSwap sets key to value only if it currently holds expected
// (expected nil: only if absent). A nil value deletes the key. On a
// mismatch it returns a *CondFailedError (errors.Is ErrCondFailed) with the
// current value, and nothing changes.
func (s *Store) CompareAndSwap(ctx context.Context, key, expected, value []byte) error {
	op := Op{Kind: OpPut, Key: key, Value: value}
	if value == nil {
		op = Op{Kind: OpDelete, Key: key}
	}
	_, err := s.Exec(ctx, Command{Conds: []Cond{{Key: key, Value: expected, Exists: expected != nil}}, Ops: []Op{op}})
	return err
}

// Incr adds delta to the decimal integer at key (absent: 0) and returns
// the new value, atomically within the shard.
func (s *Store) Incr(ctx context.Context, key []byte, delta int64) (int64, error) {
	res, err := s.Exec(ctx, Command{Ops: []Op{{Kind: OpIncr, Key: key, Value: strconv.AppendInt(nil, delta, 10)}}})
	if err != nil {
		return 0, err
	}
	if len(res.Values) != 1 {
		return 0, fmt.Errorf("shard: incr returned %d values", len(res.Values))
	}
	return strconv.ParseInt(string(res.Values[0]), 10, 64)
}

// Exec runs a command atomically: every key must belong to one shard
// (otherwise ErrCrossShard and nothing happens). A failed condition
// returns a *CondFailedError; other non-OK statuses return an error too.
// Batches spanning shards are not atomic: split them per shard.
func (s *Store) Exec(ctx context.Context, cmd Command) (res Result, err error) {
	err = s.retryMoved(ctx, func(ctx context.Context) error {
		res, err = s.exec(ctx, cmd)
		return err
	})
	return res, err
}

func (s *Store) exec(ctx context.Context, cmd Command) (Result, error) {
	d, err := s.commandShard(&cmd)
	if err != nil {
		return Result{}, err
	}
	return s.execAt(ctx, d, cmd)
}

// execAt proposes cmd to the shard d and decodes its result.
func (s *Store) execAt(ctx context.Context, d dest, cmd Command) (Result, error) {
	data := EncodeCommand(cmd)
	if len(data) > s.opts.MaxProposalBytes {
		return Result{}, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(data), s.opts.MaxProposalBytes)
	}
	out, err := s.propose(ctx, d, data)
	if err != nil {
		return Result{}, err
	}
	res, err := DecodeResult(out)
	if err != nil {
		return Result{}, err
	}
	return res, resultError(&cmd, &res)
}

func resultError(cmd *Command, res *Result) error {
	switch res.Status {
	case StatusOK:
		return nil
	case StatusCondFailed:
		e := &CondFailedError{Current: res.Current, Exists: res.CurrentExists}
		if res.FailedCond >= 0 && res.FailedCond < len(cmd.Conds) {
			e.Key = cmd.Conds[res.FailedCond].Key
		}
		return e
	case StatusNotInteger:
		return errors.New("shard: value is not an integer")
	case StatusOverflow:
		return errors.New("shard: increment would overflow")
	case StatusWrongShard:
		return fmt.Errorf("%w: a key of the command is outside its shard's range now; nothing was applied", ErrShardMoved)
	case StatusBadCommand:
		return fmt.Errorf("%w: the state machine could not decode it", ErrBadCommand)
	}
	return errors.New("shard: command rejected by the state machine")
}

// commandShard finds the one shard every key of cmd belongs to.
func (s *Store) commandShard(cmd *Command) (dest, error) {
	var r dest
	first := true
	check := func(key []byte) error {
		kr, err := s.route(key)
		if err != nil {
			return err
		}
		if !first && kr.id != r.id {
			return fmt.Errorf("%w: keys of shards %d and %d", ErrCrossShard, r.id, kr.id)
		}
		r, first = kr, false
		return nil
	}
	for _, c := range cmd.Conds {
		if err := check(c.Key); err != nil {
			return dest{}, err
		}
	}
	for _, o := range cmd.Ops {
		if err := check(o.Key); err != nil {
			return dest{}, err
		}
	}
	if first {
		return dest{}, errors.New("shard: empty command")
	}
	return r, nil
}

// dest is where a request for one shard goes: the local replica r, or,
// when this node does not host the shard (r nil), another node found
// through Options.Directory.
type dest struct {
	id ShardID
	r  *replica
}

// ShardFor returns the shard key belongs to as this node's routing sees
// it now: the ranges of its own replicas, or the directory in a placement
// cluster (Options.Directory). A split or a move may change it at any
// time; a Command grouped by it may still fail with ErrCrossShard.
func (s *Store) ShardFor(key []byte) (ShardID, error) {
	d, err := s.route(key)
	return d.id, err
}

func (s *Store) route(key []byte) (dest, error) {
	if err := s.usable(); err != nil {
		return dest{}, err
	}
	if r := s.routes.lookup(key); r != nil {
		return dest{id: r.id, r: r}, nil
	}
	if id, ok := s.remoteShardFor(key); ok {
		return dest{id: id}, nil
	}
	return dest{}, fmt.Errorf("%w: %q", ErrNoShard, key)
}

func (s *Store) usable() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (s *Store) defaultKV() (*KV, error) {
	if s.kv == nil {
		return nil, errors.New("shard: reads by key need the default key-value state machine")
	}
	return s.kv, nil
}

// withTimeout applies Options.RequestTimeout to a context without a
// deadline.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.RequestTimeout)
}

// propose replicates data in r's shard, at this node if it leads the
// shard, else forwarded to the leader's node.
func (s *Store) propose(ctx context.Context, d dest, data []byte) ([]byte, error) {
	req := forwardRequest{kind: fwdPropose, shard: d.id, parts: [][]byte{data}}
	if d.r == nil {
		return s.forwardAnywhere(ctx, d.id, req)
	}
	out, err := s.proposeLocal(ctx, d.r, data)
	if to, ok := s.forwardTarget(err); ok {
		return s.forward(ctx, to, req)
	}
	return out, err
}

// proposeLocal hands data to r's group and waits until it is applied.
// While the shard has no leader (an election is under way) it waits, up
// to the context's deadline, for one.
func (s *Store) proposeLocal(ctx context.Context, r *replica, data []byte) ([]byte, error) {
	return s.submit(ctx, r, func() *proposal { return newProposal(data) })
}

// submit hands the proposal mk makes to r's group and waits for its
// outcome (see proposeLocal).
func (s *Store) submit(ctx context.Context, r *replica, mk func() *proposal) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for {
		if err := s.leaderHere(r); err != nil {
			return nil, err
		}
		p := mk()
		r.addProposal(p)
		select {
		case res := <-p.done:
			if errors.Is(res.err, ErrNoQuorum) && s.awaitElection(ctx) {
				continue // not applied: nobody led the shard when it arrived
			}
			return res.result, res.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w (the write may still be applied)", ErrTimeout, ctx.Err())
		case <-s.closing:
			return nil, ErrClosed
		}
	}
}

// awaitElection waits one tick for a leader to be elected; it reports
// false if ctx ends or the store closes first.
func (s *Store) awaitElection(ctx context.Context) bool {
	t := time.NewTimer(s.opts.TickInterval)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// leaderHere fails fast when another node is known to lead r's shard.
// A request wakes a quiet replica first: a quiet follower never campaigns
// on its own, so if the leader's node is gone and nothing declares it
// dead (a static cluster has no membership), the shard would otherwise
// stay leaderless however many requests arrive. If the leader is alive,
// the request forwarded or redirected to it wakes it too, and its
// heartbeats keep the woken follower from campaigning.
func (s *Store) leaderHere(r *replica) error {
	if ld := raftpb.NodeID(r.leader.Load()); ld != raftpb.None && ld != s.opts.NodeID {
		if !r.awake.Load() {
			r.wakeUp()
		}
		return &NotLeaderError{Shard: r.id, Leader: ld}
	}
	return nil
}

// readBarrier waits until a read of r at consistency c may be served from
// this node's state machine.
func (s *Store) readBarrier(ctx context.Context, r *replica, c Consistency) error {
	if c == Stale {
		return nil
	}
	if err := s.leaderHere(r); err != nil {
		return err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for {
		q := newReadReq(c == Linearizable)
		r.addRead(q)
		select {
		case err := <-q.done:
			if errors.Is(err, ErrNoQuorum) && s.awaitElection(ctx) {
				if err := s.leaderHere(r); err != nil {
					return err
				}
				continue
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		case <-s.closing:
			return ErrClosed
		}
	}
}
