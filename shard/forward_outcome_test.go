package shard

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestForwardedWriteCutShortIsNotRetrySafe: a write forwarded to the
// leader, which stops while the write is pending, may still be applied by
// the others. The error must not be one that says the write did not
// happen (ErrNoQuorum, ErrProposalDropped, *NotLeaderError): a client
// that retried a CAS on it could apply it twice (found by the
// linearizability test, as a CAS failing on its own new value).
func TestForwardedWriteCutShortIsNotRetrySafe(t *testing.T) {
	c := newMemCluster(t, 3, 1, 41)
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
	var nl *NotLeaderError
	switch {
	case err == nil:
		t.Fatal("the write succeeded although its leader was isolated and stopped")
	case errors.Is(err, ErrNoQuorum), errors.Is(err, ErrProposalDropped), errors.As(err, &nl):
		t.Fatalf("a write cut short at the leader reports %v, which says it was not applied", err)
	case !errors.Is(err, ErrTimeout):
		t.Fatalf("unexpected error %v", err)
	}
}
