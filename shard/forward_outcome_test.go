package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// directCaller carries forwarded requests straight to the target store,
// past the network's cuts; with loseAnswers it then fails as a broken
// connection would after the request ran.
type directCaller struct {
	c           func() *testCluster
	from        raftpb.NodeID
	loseAnswers bool
}

func (d directCaller) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	dst := d.c().node(to)
	if dst == nil {
		return nil, fmt.Errorf("%w: node %d is down", transport.ErrCallRefused, to)
	}
	ans := dst.HandleCall(ctx, d.from, req)
	if d.loseAnswers {
		return nil, fmt.Errorf("%w: connection to node %d broke before the answer", transport.ErrUnreachable, to)
	}
	return ans, nil
}

// retrySafe reports whether err tells the client that its write did not
// happen.
func retrySafe(err error) bool {
	var nl *NotLeaderError
	return errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrProposalDropped) || errors.As(err, &nl)
}

// TestForwardedWriteCutShortIsNotRetrySafe: a write forwarded to the
// leader, which stops while the write is pending, may still be applied by
// the others. The error must not be one that says the write did not
// happen (ErrNoQuorum, ErrProposalDropped, *NotLeaderError): a client
// that retried a CAS on it could apply it twice (found by the
// linearizability test, as a CAS failing on its own new value).
func TestForwardedWriteCutShortIsNotRetrySafe(t *testing.T) {
	var c *testCluster
	c = newMemClusterTweaked(t, 3, 1, 41, func(id raftpb.NodeID, o *Options) {
		o.Caller = directCaller{c: func() *testCluster { return c }, from: id}
	})
	c.put("k000001", "v")
	leader := c.leaderOf(t, "k000001")
	follower := c.live()[0]
	if follower == leader {
		follower = c.live()[1]
	}
	ls := c.node(leader)
	before := ls.Metrics().Proposals
	// The leader can take the proposal but not commit it.
	c.net.Isolate(leader)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- c.node(follower).Put(ctx, []byte("k000001"), []byte("w"))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for ls.Metrics().Proposals == before {
		if time.Now().After(deadline) {
			t.Fatal("the forwarded write never reached the leader's group")
		}
		time.Sleep(time.Millisecond)
	}
	c.stopNode(leader)
	err := <-errc
	switch {
	case err == nil:
		t.Fatal("the write succeeded although its leader was isolated and stopped")
	case retrySafe(err):
		t.Fatalf("a write cut short at the leader reports %v, which says it was not applied", err)
	case !errors.Is(err, ErrTimeout):
		t.Fatalf("unexpected error %v", err)
	}
}

// TestForwardedWriteAnswerLostIsNotRetrySafe: when the forwarding call
// fails after the leader ran the write (the connection broke, the answer
// was lost), the write is applied; the client must not be told it was
// not (found by the linearizability test once forwarding went through
// the network's Call).
func TestForwardedWriteAnswerLostIsNotRetrySafe(t *testing.T) {
	var c *testCluster
	c = newMemClusterTweaked(t, 3, 1, 42, func(id raftpb.NodeID, o *Options) {
		o.Caller = directCaller{c: func() *testCluster { return c }, from: id, loseAnswers: true}
	})
	c.put("k000001", "v")
	leader := c.leaderOf(t, "k000001")
	follower := c.live()[0]
	if follower == leader {
		follower = c.live()[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.node(follower).Put(ctx, []byte("k000001"), []byte("applied"))
	if err == nil || retrySafe(err) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("forwarded write whose answer was lost: %v; want ErrTimeout (it may have been applied)", err)
	}
	if got, ok := c.get("k000001"); !ok || got != "applied" {
		t.Fatalf("read after the lost answer = %q %v; the write was applied at the leader", got, ok)
	}
}

// staleCaller answers the first n forwarded requests as a node that has
// just lost the lead would (*NotLeaderError naming the real leader,
// nothing run), then carries them like directCaller.
type staleCaller struct {
	directCaller
	n     *int
	lead  *raftpb.NodeID
	shard ShardID
}

func (s staleCaller) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	if *s.n > 0 {
		*s.n--
		return encodeAnswer(nil, &NotLeaderError{Shard: s.shard, Leader: *s.lead}), nil
	}
	return s.directCaller.Call(ctx, to, req)
}

// TestForwardFollowsMovedLeader: a write forwarded to a node that stopped
// leading on the way (nothing was applied) is sent again to the leader it
// names, so a leadership change does not reach the client as an error;
// past maxLeaderHops the error is returned.
func TestForwardFollowsMovedLeader(t *testing.T) {
	var c *testCluster
	var stale int
	var lead raftpb.NodeID
	c = newMemClusterTweaked(t, 3, 1, 43, func(id raftpb.NodeID, o *Options) {
		o.Caller = staleCaller{directCaller: directCaller{c: func() *testCluster { return c }, from: id}, n: &stale, lead: &lead, shard: 1}
	})
	c.put("k000001", "v")
	lead = c.leaderOf(t, "k000001")
	follower := c.live()[0]
	if follower == lead {
		follower = c.live()[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stale = 2 // a leader that moved twice while the request followed it
	if err := c.node(follower).Put(ctx, []byte("k000002"), []byte("w")); err != nil {
		t.Fatalf("put through node %d after 2 stale answers: %v", follower, err)
	}
	if stale != 0 {
		t.Fatalf("%d stale answers left unused", stale)
	}
	stale = maxLeaderHops + 1
	var nl *NotLeaderError
	if err := c.node(follower).Put(ctx, []byte("k000003"), []byte("w")); !errors.As(err, &nl) {
		t.Fatalf("put after %d stale answers: err %v, want *NotLeaderError", maxLeaderHops+1, err)
	}
}

// TestDroppedReadSaysNoQuorum: a read pending at a leader that loses its
// leadership before a quorum confirms it waits for an election and, if
// none ends in time, fails with ErrNoQuorum, the class that tells a
// client to retry (here or at the end of a forward). It failed at once
// with a bare NotLeaderError without a leader, which a forward turned
// into an unclassified "failed at the leader" (a placement test's scan
// failed so during an election).
func TestDroppedReadSaysNoQuorum(t *testing.T) {
	c := newMemCluster(t, 3, 1, 43)
	c.put("k000001", "v")
	leader := c.leaderOf(t, "k000001")
	// No quorum confirms the read; CheckQuorum then ends the leadership,
	// and the read waits for an election (readBarrier) until ctx ends.
	c.net.Isolate(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := c.node(leader).Get(ctx, []byte("k000001"))
	var nl *NotLeaderError
	switch {
	case errors.Is(err, ErrNoQuorum):
	case errors.As(err, &nl) && nl.Leader != raftpb.None:
		t.Fatalf("an isolated leader's dropped read names leader %d", nl.Leader)
	default:
		t.Fatalf("an isolated leader's dropped read failed with %v, want %v", err, ErrNoQuorum)
	}
}

// handoffCaller forwards like directCaller, but the first call from the
// armed node first makes that node the shard's leader: every answer then
// names the caller's own node as the leader.
type handoffCaller struct {
	directCaller
	h *handoff
}

type handoff struct {
	armed atomic.Uint64 // the node whose first call hands over
	once  sync.Once
	shard ShardID
	err   error
}

func (h handoffCaller) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	if raftpb.NodeID(h.h.armed.Load()) == h.from {
		h.h.once.Do(func() { h.h.err = h.handOver(ctx, to) })
	}
	return h.directCaller.Call(ctx, to, req)
}

// handOver moves the shard's leadership to the calling node and waits
// until node to, about to be called, knows it.
func (h handoffCaller) handOver(ctx context.Context, to raftpb.NodeID) error {
	if err := h.c().node(to).TransferLeader(ctx, h.h.shard, h.from); err != nil {
		return err
	}
	r := h.c().node(to).replica(h.h.shard)
	for raftpb.NodeID(r.leader.Load()) != h.from {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d does not see node %d lead: %w", to, h.from, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// TestAdminFollowsLeadershipToItsOwnNode: an admin request forwarded from
// a follower must be served there if that node wins the leadership while
// the request is out. Every answer names the node itself, which
// forwarding skips; the request went round the other replicas until its
// deadline, or until the leadership moved on (TestStaleRunOfAMove's
// first ShardProgress, under load, for 30s).
func TestAdminFollowsLeadershipToItsOwnNode(t *testing.T) {
	var c *testCluster
	h := &handoff{shard: 1}
	c = newMemClusterTweaked(t, 3, 1, 44, func(id raftpb.NodeID, o *Options) {
		o.Caller = handoffCaller{directCaller: directCaller{c: func() *testCluster { return c }, from: id}, h: h}
	})
	c.put("k000001", "v")
	leader := c.leaderOf(t, "k000001")
	from := c.live()[0]
	if from == leader {
		from = c.live()[1]
	}
	h.armed.Store(uint64(from))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	p, err := c.node(from).ShardProgress(ctx, 1)
	if h.err != nil {
		t.Fatalf("handing the leadership to node %d: %v", from, h.err)
	}
	if err != nil || p.Leader != from {
		t.Fatalf("progress asked at node %d, which took the leadership meanwhile: %+v, %v (after %v)", from, p, err, time.Since(start))
	}
}
