package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Workload is the concurrent load of a linearizability run: sequential
// clients on a small hot key set, each operation sent to a random live
// node (any node serves any key), and now and then a write-once ledger
// key whose acknowledgement is checked after the run.
type Workload struct {
	Cluster *Cluster
	Rec     *Recorder
	Ledger  *Ledger
	// Registers get every command; Counters mostly INCR.
	Registers, Counters []string
	Clients             int
	// MaxOps bounds each client's operations; Until bounds its time.
	MaxOps int
	Until  time.Time
	Seed   uint64
}

// opBudget bounds one operation's attempts (riding out an election or a
// restart); a read that finds no node in it leaves no trace.
const opBudget = 4 * time.Second

// HotKeys returns n keys spread over the key space (so over every
// shard), with a tag that keeps different key sets apart.
func HotKeys(n int, tag string) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(KeyFormat, (i*KeySpace+KeySpace/2)/n) + tag
	}
	return keys
}

// Run runs every client until its bound and waits for them.
func (w *Workload) Run() {
	var wg sync.WaitGroup
	for i := 0; i < w.Clients; i++ {
		cl := &client{w: w, name: i, id: w.Rec.NewClient(), rng: rand.New(rand.NewPCG(w.Seed, uint64(i)+1)),
			conns: NewConns(w.Cluster.Nodes)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.conns.Close()
			for n := 0; n < w.MaxOps && time.Now().Before(w.Until); n++ {
				cl.step()
			}
		}()
	}
	wg.Wait()
}

// client is one sequential client of a Workload.
type client struct {
	w     *Workload
	name  int
	id    int // porcupine client ID; renewed after an unknown outcome
	seq   int
	rng   *rand.Rand
	conns *Conns
}

func (cl *client) value() string {
	cl.seq++
	return fmt.Sprintf("c%d.%d", cl.name, cl.seq)
}

// step chooses and runs one operation.
func (cl *client) step() {
	w, rng := cl.w, cl.rng
	if w.Ledger != nil && rng.IntN(10) == 0 {
		cl.ledgerWrite()
		return
	}
	if len(w.Counters) > 0 && rng.IntN(3) == 0 {
		key := w.Counters[rng.IntN(len(w.Counters))]
		switch p := rng.IntN(20); {
		case p < 7:
			cl.do(Input{Kind: OpGet, Key: key}, opBudget)
		case p < 18:
			cl.do(Input{Kind: OpIncr, Key: key}, opBudget)
		default:
			cl.do(Input{Kind: OpDel, Key: key}, opBudget)
		}
		return
	}
	key := w.Registers[rng.IntN(len(w.Registers))]
	in := Input{Key: key}
	switch p := rng.IntN(20); {
	case p < 6:
		in.Kind = OpGet
	case p < 9:
		in.Kind, in.Value = OpSet, cl.value()
	case p < 11:
		in.Kind, in.Value, in.Get = OpSet, cl.value(), true
	case p < 14:
		in.Kind, in.Value, in.Get = OpSetNX, cl.value(), rng.IntN(2) == 0
	case p < 17:
		in.Kind, in.Value, in.Get = OpSetXX, cl.value(), rng.IntN(2) == 0
	case p < 19:
		in.Kind = OpDel
	default:
		in.Kind = OpIncr // usually refused: registers hold strings
	}
	cl.do(in, opBudget)
}

// pick returns a random live node's ID, or 0 if none is.
func (cl *client) pick() int {
	live := cl.w.Cluster.Live()
	if len(live) == 0 {
		return 0
	}
	return live[cl.rng.IntN(len(live))].Spec.ID
}

// retryPause is the wait between attempts of one operation.
const retryPause = 20 * time.Millisecond

// do runs in until it has an outcome and records it. A read that never
// succeeds, and a write that certainly took no effect, leave no trace; a
// write whose outcome is unknown stays open to the end of the run, and
// the client goes on under a new ID.
func (cl *client) do(in Input, budget time.Duration) (Output, bool) {
	rec := cl.w.Rec
	call := rec.Now()
	deadline := time.Now().Add(budget)
	for time.Now().Before(deadline) {
		id := cl.pick()
		if id == 0 {
			time.Sleep(retryPause)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		out, err := cl.conns.Call(ctx, id, in)
		cancel()
		if err == nil {
			rec.Record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: out, Return: rec.Now()})
			return out, true
		}
		if in.Kind == OpGet || classify(err) == notDone {
			time.Sleep(retryPause)
			continue
		}
		rec.Record(porcupine.Operation{ClientId: cl.id, Input: in, Call: call, Output: Output{Unknown: true}})
		cl.id = rec.NewClient()
		return Output{}, false
	}
	rec.GaveUp()
	return Output{}, false
}

// ledgerWrite writes a key nobody writes again; once acknowledged, it
// must be readable after the run.
func (cl *client) ledgerWrite() {
	key := fmt.Sprintf(KeyFormat, cl.rng.IntN(KeySpace)) + fmt.Sprintf(".w%d.%d", cl.name, cl.seq+1)
	value := cl.value()
	deadline := time.Now().Add(opBudget)
	for time.Now().Before(deadline) {
		id := cl.pick()
		if id == 0 {
			time.Sleep(retryPause)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		_, err := cl.conns.Call(ctx, id, Input{Kind: OpSet, Key: key, Value: value})
		cancel()
		switch {
		case err == nil:
			cl.w.Ledger.Acked(key, value)
			return
		case classify(err) == maybeDone:
			cl.w.Ledger.Unknown()
			return
		}
		time.Sleep(retryPause)
	}
}

// Ledger holds the acknowledged write-once keys. Safe for concurrent use.
type Ledger struct {
	mu struct {
		sync.Mutex
		acked   map[string]string
		unknown int
	}
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	l := &Ledger{}
	l.mu.acked = map[string]string{}
	return l
}

// Acked records an acknowledged write.
func (l *Ledger) Acked(key, value string) {
	l.mu.Lock()
	l.mu.acked[key] = value
	l.mu.Unlock()
}

// Unknown counts a ledger write of unknown outcome (not checked).
func (l *Ledger) Unknown() {
	l.mu.Lock()
	l.mu.unknown++
	l.mu.Unlock()
}

// LedgerReport is what a ledger check found.
type LedgerReport struct {
	Acked, Unknown int
	// Lost lists acknowledged keys that read back absent or different.
	Lost []string
}

// Verify reads every acknowledged key back (MGET in batches, retried on
// errors until deadline) and reports the ones lost.
func (l *Ledger) Verify(c *Cluster, deadline time.Time) (LedgerReport, error) {
	l.mu.Lock()
	keys := make([]string, 0, len(l.mu.acked))
	for k := range l.mu.acked {
		keys = append(keys, k)
	}
	want := make(map[string]string, len(keys))
	for k, v := range l.mu.acked {
		want[k] = v
	}
	rep := LedgerReport{Acked: len(keys), Unknown: l.mu.unknown}
	l.mu.Unlock()
	sort.Strings(keys)
	got, err := ReadAll(c, keys, deadline)
	if err != nil {
		return rep, err
	}
	for i, k := range keys {
		if got[i] != want[k] {
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s = %q, acknowledged %q", k, got[i], want[k]))
		}
	}
	return rep, nil
}

// ReadAll reads keys with MGETs of at most 64 keys from random live
// nodes, retrying a batch until deadline.
func ReadAll(c *Cluster, keys []string, deadline time.Time) ([]string, error) {
	conns := NewConns(c.Nodes)
	defer conns.Close()
	rng := rand.New(rand.NewPCG(uint64(len(keys)), 7))
	out := make([]string, 0, len(keys))
	for start := 0; start < len(keys); start += 64 {
		batch := keys[start:min(start+64, len(keys))]
		for {
			live := c.Live()
			var err error
			if len(live) == 0 {
				err = fmt.Errorf("no live node")
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
				var vals []string
				vals, err = conns.MGet(ctx, live[rng.IntN(len(live))].Spec.ID, batch...)
				cancel()
				if err == nil {
					out = append(out, vals...)
					break
				}
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("chaos: reading %d keys back: %w", len(keys), err)
			}
			time.Sleep(retryPause)
		}
	}
	return out, nil
}
