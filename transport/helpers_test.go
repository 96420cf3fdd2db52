package transport

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: from the clock)")

// testSeed returns the seed for a randomized test and logs it on failure.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed: %d (rerun with -seed=%d)", s, s)
		}
	})
	return s
}

// recorder is a Handler that records what it receives.
type recorder struct {
	mu        sync.Mutex
	msgs      []raftpb.Message
	frames    int
	snaps     []recordedSnap
	installFn func(raftpb.Message, []byte) error
	changed   chan struct{}
	// callFn answers Calls; nil echoes the request.
	callFn func(ctx context.Context, from raftpb.NodeID, req []byte) []byte
}

type recordedSnap struct {
	msg  raftpb.Message
	data []byte
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) HandleMessages(batch []raftpb.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, batch...)
	r.frames++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) HandleSnapshot(_ context.Context, msg raftpb.Message, data io.Reader) error {
	b, err := io.ReadAll(data)
	if err != nil {
		return err
	}
	r.mu.Lock()
	fn := r.installFn
	r.mu.Unlock()
	if fn != nil {
		if err := fn(msg, b); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.snaps = append(r.snaps, recordedSnap{msg, b})
	r.mu.Unlock()
	r.poke()
	return nil
}

// HandleCall implements CallHandler.
func (r *recorder) HandleCall(ctx context.Context, from raftpb.NodeID, req []byte) []byte {
	r.mu.Lock()
	fn := r.callFn
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, from, req)
	}
	return append([]byte(fmt.Sprintf("echo from %d: ", from)), req...)
}

func (r *recorder) setCallFn(fn func(ctx context.Context, from raftpb.NodeID, req []byte) []byte) {
	r.mu.Lock()
	r.callFn = fn
	r.mu.Unlock()
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) messages() []raftpb.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]raftpb.Message(nil), r.msgs...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// cluster is a set of real transports on loopback sharing a resolver.
type cluster struct {
	res   *StaticResolver
	nodes map[raftpb.NodeID]*Transport
	recs  map[raftpb.NodeID]*recorder
}

func newCluster(t testing.TB, n int, tweak func(*Options)) *cluster {
	t.Helper()
	c := &cluster{res: &StaticResolver{}, nodes: map[raftpb.NodeID]*Transport{}, recs: map[raftpb.NodeID]*recorder{}}
	for i := 1; i <= n; i++ {
		id := raftpb.NodeID(i)
		opts := Options{NodeID: id, ClusterID: 7, ListenAddr: "127.0.0.1:0", Resolver: c.res,
			Logger: quietLogger(), SnapshotDir: t.TempDir(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
		if tweak != nil {
			tweak(&opts)
		}
		rec := newRecorder()
		tr, err := New(opts, rec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		c.res.Set(id, tr.Addr().String())
		c.nodes[id], c.recs[id] = tr, rec
	}
	return c
}

func msgApp(group raftpb.GroupID, from, to raftpb.NodeID, index raftpb.Index, payload int) raftpb.Message {
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(int(index) + i)
	}
	return raftpb.Message{Type: raftpb.MsgApp, Group: group, From: from, To: to, Term: 3, LogTerm: 3,
		Index: index, Commit: index, Entries: []raftpb.Entry{{Term: 3, Index: index + 1, Data: data}}}
}

func describe(m raftpb.Message) string {
	s := m.String()
	for _, e := range m.Entries {
		s += fmt.Sprintf(" [%d/%d %s %x]", e.Index, e.Term, e.Type, e.Data)
	}
	return s + fmt.Sprintf(" reject=%v hint=%d ctx=%d", m.Reject, m.RejectHint, m.Context)
}
