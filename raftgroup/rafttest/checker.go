package rafttest

import (
	"fmt"
	"sort"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// canonEntry is a committed entry as first applied anywhere.
type canonEntry struct {
	entry raftpb.Entry
	chain uint64
	// termSeen is the highest term any replica had held when the entry was
	// first applied: a leader of a higher term was elected after the
	// entry committed, so its log must hold the entry.
	termSeen raftpb.Term
}

// confPoint is the membership in force from index on.
type confPoint struct {
	index raftpb.Index
	cs    raftpb.ConfState
}

type indexTerm struct {
	index raftpb.Index
	term  raftpb.Term
}

type termNode struct {
	term raftpb.Term
	node raftpb.NodeID
}

// checker holds the global facts the safety properties are checked
// against. Every map is only ever looked up, never ranged over, so the
// checker cannot make a run nondeterministic.
type checker struct {
	// leaders maps each term to the one replica that led in it.
	leaders map[raftpb.Term]raftpb.NodeID
	// votes maps (term, voter) to the candidate it durably voted for.
	votes map[termNode]raftpb.NodeID
	// known maps every (index, term) handed out in any Ready to the chain
	// hash of the log up to it (log matching).
	known map[indexTerm]uint64
	// canon is the committed log: canon[i] is entry i (canon[0] is the
	// empty prefix).
	canon []canonEntry
	// confs is the committed membership history, ascending.
	confs []confPoint
	// writes lists, per key, the indexes of the committed writes to it.
	writes map[string][]raftpb.Index
	// termSeen is the running maximum of every replica's term.
	termSeen raftpb.Term
}

// newChecker starts the history at the bootstrap point: the initial
// membership is a snapshot at index 1, term 1 (raftgroup's convention).
func newChecker(bootstrap raftpb.ConfState) *checker {
	boot := raftpb.Entry{Index: bootIndex, Term: bootTerm}
	c := &checker{
		leaders: map[raftpb.Term]raftpb.NodeID{},
		votes:   map[termNode]raftpb.NodeID{},
		known:   map[indexTerm]uint64{},
		canon:   []canonEntry{{}, {entry: boot, chain: chainHash(0, &boot)}},
		confs:   []confPoint{{index: 0, cs: bootstrap.Clone()}},
		writes:  map[string][]raftpb.Index{},
	}
	c.known[indexTerm{bootIndex, bootTerm}] = c.canon[1].chain
	return c
}

// bootIndex and bootTerm are the position of the bootstrap snapshot.
const (
	bootIndex raftpb.Index = 1
	bootTerm  raftpb.Term  = 1
)

func (c *checker) lastCommitted() raftpb.Index { return raftpb.Index(len(c.canon) - 1) }

// leader records that id leads term (election safety).
func (c *checker) leader(term raftpb.Term, id raftpb.NodeID) error {
	if prev, ok := c.leaders[term]; ok && prev != id {
		return fmt.Errorf("election safety: n%d and n%d both lead term %d", prev, id, term)
	}
	c.leaders[term] = id
	return nil
}

// vote records a durable vote.
func (c *checker) vote(voter raftpb.NodeID, term raftpb.Term, cand raftpb.NodeID) error {
	k := termNode{term, voter}
	if prev, ok := c.votes[k]; ok && prev != cand {
		return fmt.Errorf("n%d durably voted for n%d and then n%d in term %d", voter, prev, cand, term)
	}
	c.votes[k] = cand
	return nil
}

// register records entries once the rest of the world can see them: made
// durable in a replica's log, or sent in a MsgApp (log matching: one
// (index, term) names one log prefix everywhere). Entries a replica held
// only in memory and lost in a crash without sending were never part of
// any log anyone else can observe.
func (c *checker) register(id raftpb.NodeID, ents []shadowEntry) error {
	for _, e := range ents {
		k := indexTerm{e.index, e.term}
		if prev, ok := c.known[k]; ok && prev != e.chain {
			return fmt.Errorf("log matching: n%d's log at %d/t%d differs from another log with the same entry", id, e.index, e.term)
		}
		c.known[k] = e.chain
	}
	return nil
}

// sent registers the entries of a MsgApp, chained from the entry it
// follows when that one is known.
func (c *checker) sent(m *raftpb.Message) error {
	if m.Type != raftpb.MsgApp || len(m.Entries) == 0 {
		return nil
	}
	var chain uint64
	if m.Index > 0 {
		var ok bool
		if chain, ok = c.known[indexTerm{m.Index, m.LogTerm}]; !ok {
			return nil
		}
	}
	ents := make([]shadowEntry, len(m.Entries))
	for i := range m.Entries {
		e := &m.Entries[i]
		chain = chainHash(chain, e)
		ents[i] = shadowEntry{index: e.Index, term: e.Term, chain: chain}
	}
	if err := c.register(m.From, ents); err != nil {
		return fmt.Errorf("%w (sent in %v)", err, *m)
	}
	return nil
}

// applied checks a replica's application of committed entry e, whose
// chain hash in that replica's log is chain (state machine safety).
func (c *checker) applied(id raftpb.NodeID, e *raftpb.Entry, chain uint64) error {
	i := e.Index
	if i <= c.lastCommitted() {
		ce := &c.canon[i]
		if ce.entry.Term != e.Term || ce.entry.Type != e.Type || string(ce.entry.Data) != string(e.Data) || ce.chain != chain {
			return fmt.Errorf("state machine safety: n%d applied %d/t%d %q, another replica applied %d/t%d %q",
				id, i, e.Term, e.Data, i, ce.entry.Term, ce.entry.Data)
		}
		return nil
	}
	if i != c.lastCommitted()+1 {
		return fmt.Errorf("n%d applied %d before anyone applied %d", id, i, c.lastCommitted()+1)
	}
	if want := chainHash(c.canon[i-1].chain, e); want != chain {
		return fmt.Errorf("log matching: n%d applied %d/t%d on a log prefix that differs from the committed one", id, i, e.Term)
	}
	c.canon = append(c.canon, canonEntry{entry: *e, chain: chain, termSeen: c.termSeen})
	if k, _, ok := parseWrite(e.Data); ok && e.Type == raftpb.EntryNormal {
		c.writes[k] = append(c.writes[k], i)
	}
	return nil
}

// appliedConf checks the membership a replica holds after applying the
// membership change at index i.
func (c *checker) appliedConf(id raftpb.NodeID, i raftpb.Index, cs raftpb.ConfState) error {
	if last := c.confs[len(c.confs)-1]; i > last.index {
		c.confs = append(c.confs, confPoint{index: i, cs: cs.Clone()})
		return nil
	}
	if want := c.confAt(i); !want.Equal(cs) {
		return fmt.Errorf("membership: n%d holds %v after applying %d, the committed history says %v", id, cs, i, want)
	}
	return nil
}

// confAt is the committed membership as of index i.
func (c *checker) confAt(i raftpb.Index) raftpb.ConfState {
	k := sort.Search(len(c.confs), func(k int) bool { return c.confs[k].index > i })
	return c.confs[k-1].cs
}

// valueAt is key's committed value as of index i.
func (c *checker) valueAt(key string, i raftpb.Index) kvValue {
	w := c.writes[key]
	k := sort.Search(len(w), func(k int) bool { return w[k] > i })
	if k == 0 {
		return kvValue{}
	}
	_, v, _ := parseWrite(c.canon[w[k-1]].entry.Data)
	return kvValue{val: v, index: w[k-1]}
}

// lastWrite is the index of the last committed write to key (0: none).
func (c *checker) lastWrite(key string) raftpb.Index {
	if w := c.writes[key]; len(w) > 0 {
		return w[len(w)-1]
	}
	return 0
}

// snapshot checks that a snapshot holds exactly the committed state at its
// index: entry, membership and key-value contents.
func (c *checker) snapshot(id raftpb.NodeID, s *raftpb.Snapshot, kv map[string]kvValue, keys []string) error {
	md := s.Metadata
	if md.Index > c.lastCommitted() || c.canon[md.Index].entry.Term != md.Term {
		return fmt.Errorf("n%d got snapshot %d/t%d, which is not a committed entry (committed up to %d)", id, md.Index, md.Term, c.lastCommitted())
	}
	if want := c.confAt(md.Index); !want.Equal(md.ConfState) {
		return fmt.Errorf("n%d got snapshot %d/t%d with membership %v, the committed membership there is %v", id, md.Index, md.Term, md.ConfState, want)
	}
	for _, k := range keys {
		if got, want := kv[k], c.valueAt(k, md.Index); got != want {
			return fmt.Errorf("n%d got snapshot %d with %s=%v, committed state there is %v", id, md.Index, k, got, want)
		}
	}
	return nil
}

// completeness checks that a leader of term holds every entry committed
// before its term began (leader completeness). log is the leader's log.
func (c *checker) completeness(id raftpb.NodeID, term raftpb.Term, log *shadowLog) error {
	k := sort.Search(len(c.canon), func(k int) bool { return c.canon[k].termSeen >= term }) - 1
	if k <= 0 || raftpb.Index(k) <= log.base() {
		return nil
	}
	e, ok := log.at(raftpb.Index(k))
	if !ok || e.chain != c.canon[k].chain {
		return fmt.Errorf("leader completeness: n%d leads term %d but lacks committed entry %d/t%d (its log: base %d last %d)",
			id, term, k, c.canon[k].entry.Term, log.base(), log.last())
	}
	return nil
}

// simKeys are the keys the workload writes: few, so reads often race
// with writes to the same key.
func simKeys() []string { return []string{"a", "b", "c", "d", "e"} }
