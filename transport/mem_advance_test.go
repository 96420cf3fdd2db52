package transport

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// inboxHandler hands every delivered message to another goroutine, as a
// store does (its handler only fills replica inboxes; its workers answer
// later, from their own goroutines). The hand-over is unbuffered, so the
// answer to one delivery is sent while the next is being delivered.
type inboxHandler struct {
	inbox chan raftpb.Message
	stop  chan struct{}
}

func (h *inboxHandler) HandleMessages(batch []raftpb.Message) {
	for _, m := range batch {
		select {
		case h.inbox <- m:
		case <-h.stop:
			return
		}
	}
}

func (h *inboxHandler) HandleSnapshot(context.Context, raftpb.Message, io.Reader) error { return nil }

// TestMemNetworkAdvanceEndsWhileOthersSend: an Advance ends even while
// other goroutines keep sending as fast as it delivers. Here a worker
// answers every delivery with a new message, so a network that also
// delivered, within the same call, what was sent during it would always
// find a message due within the window, and Advance(1s) would need a
// million steps of the 1 µs minimum delay with 1,000 messages each. That
// is what hung shard.TestClusterThousandShards's cleanup under -race:
// the test's pump stayed inside one Advance while the stores it delivered
// to kept sending, and the stores were closed only after the pump
// returned. An Advance delivers what was in flight when it began and
// falls due within its window; what is sent meanwhile is due after the
// window, for a later call.
func TestMemNetworkAdvanceEndsWhileOthersSend(t *testing.T) {
	const backlog = 1000
	n := NewMemNetwork(testSeed(t), Faults{})
	h := &inboxHandler{inbox: make(chan raftpb.Message), stop: make(chan struct{})}
	src := n.Add(1, newRecorder())
	n.Add(2, h)
	for i := range backlog {
		src.Send(raftpb.Message{Type: raftpb.MsgVote, Group: raftpb.GroupID(i), To: 2, Term: 1})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the worker: one new message for every delivery
		defer wg.Done()
		for {
			select {
			case m := <-h.inbox:
				src.Send(raftpb.Message{Type: raftpb.MsgVote, Group: m.Group, To: 2, Term: m.Term + 1})
			case <-h.stop:
				return
			}
		}
	}()
	done := make(chan int, 1)
	go func() { done <- n.Advance(time.Second) }()
	// The call delivers 1,000 messages: well under a second even under
	// the race detector on a loaded machine; ten is a wide margin.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	var got int
	select {
	case got = <-done:
		close(h.stop)
		wg.Wait()
	case <-deadline.C:
		close(h.stop) // the worker stops answering, so the Advance can end
		wg.Wait()
		<-done
		t.Fatalf("Advance(1s) still running after 10 s while a worker answered its deliveries (%+v)", n.Stats())
	}
	if got != backlog {
		t.Fatalf("Advance delivered %d messages, want the %d in flight when it began", got, backlog)
	}
	// Nothing sent during the call was lost: it waits, due after the
	// window.
	st := n.Stats()
	if pending := n.Pending(); st.Delivered != backlog || st.Sent != st.Delivered+uint64(pending) || pending == 0 {
		t.Fatalf("after the call: %+v, %d pending; want %d delivered and the rest pending", st, pending, backlog)
	}
	if now := n.Now(); now != time.Second {
		t.Fatalf("clock at %v after Advance(1s) from 0", now)
	}
}

// TestMemNetworkAnswersFallDueAfterTheWindow: a Handler's answer, sent
// during the Advance that delivered the request, is stamped from the end
// of that call's window and delivered by the next call at that time.
func TestMemNetworkAnswersFallDueAfterTheWindow(t *testing.T) {
	n := NewMemNetwork(testSeed(t), Faults{MinDelay: time.Millisecond, MaxDelay: time.Millisecond})
	var trace []string
	h1 := &traceHandler{n: n, id: 1, trace: &trace}
	h2 := &traceHandler{n: n, id: 2, trace: &trace}
	a := n.Add(1, h1)
	h2.reply = n.Add(2, h2)
	a.Send(raftpb.Message{Type: raftpb.MsgApp, Group: 1, To: 2, Term: 1, Index: 5})
	if got := n.Advance(10 * time.Millisecond); got != 1 || n.Pending() != 1 {
		t.Fatalf("Advance(10ms) delivered %d with %d pending, want the request delivered and its answer pending", got, n.Pending())
	}
	if got := n.Advance(999 * time.Microsecond); got != 0 {
		t.Fatalf("the answer arrived %v after the window, before its 1ms delay", n.Now()-10*time.Millisecond)
	}
	if got := n.Advance(time.Microsecond); got != 1 {
		t.Fatalf("the answer did not arrive 1ms after the window: %d delivered", got)
	}
	want := []string{"1ms 2<-1 MsgApp g1 i5", "11ms 1<-2 MsgAppResp g1 i5"}
	if strings.Join(trace, "\n") != strings.Join(want, "\n") {
		t.Fatalf("trace:\n%s\nwant:\n%s", strings.Join(trace, "\n"), strings.Join(want, "\n"))
	}
}

// gateHandler holds its first delivery until released, so that a test
// can act while an Advance is delivering.
type gateHandler struct {
	once     sync.Once
	entered  chan struct{} // closed when the first delivery arrives
	release  chan struct{}
	received atomic.Int64
}

func (h *gateHandler) HandleMessages(batch []raftpb.Message) {
	h.received.Add(int64(len(batch)))
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
}

func (h *gateHandler) HandleSnapshot(context.Context, raftpb.Message, io.Reader) error { return nil }

// TestMemNetworkCloseEndsAdvance: Close, called while an Advance is in
// a Handler, neither waits for that Handler (no lock is held across it)
// nor lets the Advance deliver anything after it: the rest of what was
// in flight is dropped, and nothing travels afterwards.
func TestMemNetworkCloseEndsAdvance(t *testing.T) {
	const backlog = 1000
	n := NewMemNetwork(testSeed(t), Faults{})
	h := &gateHandler{entered: make(chan struct{}), release: make(chan struct{})}
	src := n.Add(1, newRecorder())
	n.Add(2, h)
	for i := range backlog {
		src.Send(raftpb.Message{Type: raftpb.MsgVote, Group: raftpb.GroupID(i), To: 2, Term: 1})
	}
	done := make(chan int, 1)
	go func() { done <- n.Advance(time.Second) }()
	// Nothing here waits for work: 10 s is only a bound on a hang.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	closed := make(chan struct{})
	select {
	case <-h.entered:
		go func() { n.Close(); close(closed) }()
	case <-deadline.C:
		t.Fatal("Advance delivered nothing in 10 s")
	}
	select {
	case <-closed:
	case <-deadline.C:
		close(h.release)
		<-done
		t.Fatal("Close waited for the Handler that Advance was running")
	}
	close(h.release)
	select {
	case got := <-done:
		if got != 1 || h.received.Load() != 1 {
			t.Fatalf("Advance delivered %d (handler got %d) after Close, want only the 1 at hand", got, h.received.Load())
		}
	case <-deadline.C:
		t.Fatal("Advance still running 10 s after Close")
	}
	if st := n.Stats(); n.Pending() != 0 || st.Dropped != backlog-1 {
		t.Fatalf("after Close: %d pending, %+v; want the other %d dropped", n.Pending(), st, backlog-1)
	}
	src.Send(raftpb.Message{Type: raftpb.MsgVote, Group: 1, To: 2, Term: 2})
	if got := n.Advance(time.Second); got != 0 || n.Pending() != 0 {
		t.Fatalf("a closed network delivered %d, holds %d", got, n.Pending())
	}
	if _, err := src.Call(t.Context(), 2, []byte("req")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call over a closed network: %v, want ErrClosed", err)
	}
	if err := src.SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource("snap")); !errors.Is(err, ErrSnapshotFailed) {
		t.Fatalf("snapshot over a closed network: %v, want ErrSnapshotFailed", err)
	}
}
