package wal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// testSeed returns WAL_SEED if set, else a fresh seed, and logs it so a
// failure can be replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WAL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with WAL_SEED=%d", seed)
		}
	})
	return seed
}

// mgroup is the model of one group's log.
type mgroup struct {
	compact raftpb.Index
	cterm   raftpb.Term
	ents    []raftpb.Entry // compact+1 .. last
	hs      raftpb.HardState
}

func (m *mgroup) last() raftpb.Index { return m.compact + raftpb.Index(len(m.ents)) }

func (m *mgroup) clone() *mgroup {
	c := *m
	c.ents = slices.Clone(m.ents)
	return &c
}

// model is the reference: a map of groups, with the exact semantics the
// package documents.
type model map[raftpb.GroupID]*mgroup

func (md model) clone() model {
	c := make(model, len(md))
	for k, v := range md {
		c[k] = v.clone()
	}
	return c
}

func (md model) get(g raftpb.GroupID) *mgroup {
	if md[g] == nil {
		md[g] = &mgroup{}
	}
	return md[g]
}

func (md model) append(g raftpb.GroupID, es []raftpb.Entry) {
	m := md.get(g)
	f := es[0].Index
	m.ents = append(m.ents[:f-m.compact-1], es...)
}

func (md model) compact(g raftpb.GroupID, idx raftpb.Index, term raftpb.Term) {
	m := md.get(g)
	if idx <= m.compact {
		return
	}
	if idx >= m.last() {
		m.ents = nil
	} else {
		m.ents = slices.Clone(m.ents[idx-m.compact:])
	}
	m.compact, m.cterm = idx, term
}

// genBatch fills b with 1..maxOps random valid ops and applies them to md.
func genBatch(r *rand.Rand, b *Batch, md model, groups int, maxOps int) {
	for range 1 + r.IntN(maxOps) {
		g := raftpb.GroupID(r.IntN(groups))
		m := md[g]
		switch p := r.IntN(100); {
		case p < 60:
			f := raftpb.Index(1)
			term := raftpb.Term(1)
			if m != nil {
				f = m.last() + 1
				if r.IntN(4) == 0 && m.last() > m.compact {
					f = m.last() - raftpb.Index(r.IntN(int(min(m.last()-m.compact, 4))))
				}
				term = m.cterm + raftpb.Term(r.IntN(2))
				if len(m.ents) > 0 {
					term = m.ents[len(m.ents)-1].Term + raftpb.Term(r.IntN(2))
				}
			}
			es := make([]raftpb.Entry, 1+r.IntN(4))
			for i := range es {
				size := r.IntN(120)
				if r.IntN(8) == 0 {
					size = 600 + r.IntN(1500)
				}
				data := make([]byte, size)
				for j := range data {
					data[j] = byte('a' + (int(f)+i+j)%7)
				}
				es[i] = raftpb.Entry{Term: term, Index: f + raftpb.Index(i), Type: raftpb.EntryType(r.IntN(2)), Data: data}
			}
			b.Append(g, es)
			md.append(g, es)
		case p < 80:
			hs := raftpb.HardState{Term: raftpb.Term(r.IntN(50)), Vote: raftpb.NodeID(r.IntN(5)), Commit: raftpb.Index(r.IntN(100))}
			b.SetHardState(g, hs)
			md.get(g).hs = hs
		case p < 96:
			if m == nil {
				continue
			}
			idx := m.compact + raftpb.Index(r.IntN(int(m.last()-m.compact)+3))
			term := raftpb.Term(7)
			if idx > m.compact && idx <= m.last() {
				term = m.ents[idx-m.compact-1].Term
			}
			b.Compact(g, idx, term)
			md.compact(g, idx, term)
		default:
			b.Remove(g)
			delete(md, g)
		}
	}
}

// checkModel asserts that w holds exactly md.
func checkModel(t *testing.T, w *WAL, md model, when string) {
	t.Helper()
	if err := diffModel(w, md); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

// diffModel returns an error describing the first difference between w
// and md, or nil if w holds exactly md.
func diffModel(w *WAL, md model) error {
	ids := w.Groups()
	if len(ids) != len(md) {
		return fmt.Errorf("WAL holds %d groups %v, model %d", len(ids), ids, len(md))
	}
	for g, m := range md {
		if err := diffGroup(w, g, m); err != nil {
			return err
		}
	}
	return nil
}

func diffGroup(w *WAL, g raftpb.GroupID, m *mgroup) error {
	st, ok := w.GroupState(g)
	if !ok {
		return fmt.Errorf("group %d missing", g)
	}
	want := State{HardState: m.hs, Compact: m.compact, CompactTerm: m.cterm, FirstIndex: m.compact + 1, LastIndex: m.last()}
	if st != want {
		return fmt.Errorf("group %d state %+v, want %+v", g, st, want)
	}
	if m.compact > 0 {
		if tm, err := w.Term(g, m.compact); err != nil || tm != m.cterm {
			return fmt.Errorf("group %d term at compaction point: %d, %v", g, tm, err)
		}
	}
	got, err := w.Entries(g, m.compact+1, m.last()+1, 1<<62)
	if err != nil {
		return fmt.Errorf("group %d entries: %w", g, err)
	}
	if len(got) != len(m.ents) {
		return fmt.Errorf("group %d: %d entries, want %d", g, len(got), len(m.ents))
	}
	for i, e := range m.ents {
		if got[i].Index != e.Index || got[i].Term != e.Term || got[i].Type != e.Type || string(got[i].Data) != string(e.Data) {
			return fmt.Errorf("group %d entry %d differs: %+v vs %+v", g, e.Index, got[i], e)
		}
		if tm, err := w.Term(g, e.Index); err != nil || tm != e.Term {
			return fmt.Errorf("group %d term(%d) = %d, %v; want %d", g, e.Index, tm, err, e.Term)
		}
	}
	return nil
}

// TestModel runs random batches (appends, overwrites, compactions,
// removals, hard states, invalid batches) against the WAL and a model, with
// clean reopens and crashes (keeping only synced data, or synced data plus
// random unsynced blocks), and checks after every reopen and every few
// steps that the WAL holds exactly the model.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	mem := vfs.NewCrashableMem()
	opts := testOptions(mem)
	opts.SegmentBytes = 16 << 10
	opts.CacheBytes = 4 << 10
	w := openT(t, opts)
	defer func() { w.Close() }()
	md := model{}
	ctx := context.Background()
	var deleted, rewritten uint64
	for step := range steps {
		b := w.NewBatch()
		if r.IntN(25) == 0 {
			// An invalid batch: a valid op and then a gap. Nothing of it
			// may stay.
			next := md.clone()
			genBatch(r, b, next, 12, 2)
			g := raftpb.GroupID(100 + r.IntN(3))
			b.Append(g, []raftpb.Entry{{Term: 1, Index: raftpb.Index(5 + md.get(g).last())}})
			delete(md, g)
			if err := w.Commit(ctx, b); !errors.Is(err, ErrInvalidBatch) {
				t.Fatalf("step %d: invalid batch: %v", step, err)
			}
		} else {
			next := md.clone()
			genBatch(r, b, next, 12, 6)
			if err := w.Commit(ctx, b); err != nil {
				t.Fatalf("step %d: commit: %v", step, err)
			}
			md = next
		}
		if step%50 == 0 {
			checkModel(t, w, md, "step "+strconv.Itoa(step))
		}
		if r.IntN(60) == 0 {
			m := w.Metrics()
			deleted += m.SegmentsDeleted
			rewritten += m.RewrittenGroups
			w = reopen(t, r, w, &mem, opts)
			checkModel(t, w, md, "reopen at step "+strconv.Itoa(step))
		}
	}
	checkModel(t, w, md, "end")
	m := w.Metrics()
	t.Logf("seed %d: %+v", seed, m)
	if deleted+m.SegmentsDeleted == 0 || rewritten+m.RewrittenGroups == 0 {
		t.Errorf("collector never ran: %d segments deleted, %d groups rewritten", deleted, rewritten)
	}
}

// reopen closes or crashes w and opens the WAL again.
func reopen(t *testing.T, r *rand.Rand, w *WAL, mem **vfs.MemFS, opts Options) *WAL {
	t.Helper()
	switch r.IntN(3) {
	case 0:
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		pct := 0
		if r.IntN(2) == 0 {
			pct = r.IntN(100)
		}
		clone := (*mem).CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(r.Uint64(), 2))})
		_ = w.Close()
		*mem = clone
	}
	opts.FS = *mem
	return openT(t, opts)
}
