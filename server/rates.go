package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Bounds of the rate sampler behind GET /api/rates.
const (
	// maxRateSamples bounds the samples kept: two minutes at one poll a
	// second.
	maxRateSamples = 120
	// minRateInterval: polls closer together than this reuse the last
	// sample, so many open dashboards do not make the series noisy.
	minRateInterval = 500 * time.Millisecond
	// maxRateGap: after a pause in polling longer than this the series
	// starts again, rather than averaging over the pause.
	maxRateGap = 5 * time.Second
)

// RatePoint is the average rate of this node's counters between two
// samples, ending at Time. Writes counts proposals made at this node,
// Reads the reads it served, Ops their sum; Fsyncs the WAL's fdatasync
// calls.
type RatePoint struct {
	Time   time.Time `json:"time"`
	Ops    float64   `json:"ops_per_sec"`
	Writes float64   `json:"writes_per_sec"`
	Reads  float64   `json:"reads_per_sec"`
	Fsyncs float64   `json:"fsyncs_per_sec"`
}

// RatesJSON is the body of GET /api/rates: the node's recent rates,
// oldest first, one point per poll at most every 500ms, at most 120
// points. Samples are taken when the endpoint is polled (no background
// sampling), so the series covers the time someone has been watching.
type RatesJSON struct {
	Node   raftpb.NodeID `json:"node"`
	Points []RatePoint   `json:"points"`
}

// rateSample is one reading of the cumulative counters.
type rateSample struct {
	at                    time.Time
	writes, reads, fsyncs uint64
}

// rateSampler serves GET /api/rates. It is safe for concurrent use.
type rateSampler struct {
	node raftpb.NodeID
	// take reads the counters now (the store's, or a test's).
	take func() rateSample
	mu   struct {
		sync.Mutex
		// samples is oldest first. Invariant: len(samples) <=
		// maxRateSamples+1 (one more sample than points).
		samples []rateSample
	}
}

// newRateSampler samples s's store.
func newRateSampler(s *Server) *rateSampler {
	return &rateSampler{node: s.store.NodeID(), take: func() rateSample {
		m := s.store.Metrics()
		return rateSample{at: time.Now(), writes: m.Proposals, reads: m.Reads, fsyncs: m.Fsyncs}
	}}
}

// points records a sample if the last is old enough and returns the
// rates between consecutive samples.
func (rs *rateSampler) points() []RatePoint {
	now := rs.take()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ss := rs.mu.samples
	switch {
	case len(ss) > 0 && now.at.Sub(ss[len(ss)-1].at) > maxRateGap:
		ss = append(ss[:0], now)
	case len(ss) == 0 || now.at.Sub(ss[len(ss)-1].at) >= minRateInterval:
		if len(ss) == maxRateSamples+1 {
			ss = append(ss[:0], ss[1:]...)
		}
		ss = append(ss, now)
	}
	rs.mu.samples = ss
	out := make([]RatePoint, 0, len(ss))
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		dt := b.at.Sub(a.at).Seconds()
		p := RatePoint{Time: b.at.UTC(),
			Writes: float64(b.writes-a.writes) / dt, Reads: float64(b.reads-a.reads) / dt,
			Fsyncs: float64(b.fsyncs-a.fsyncs) / dt}
		p.Ops = p.Writes + p.Reads
		out = append(out, p)
	}
	return out
}

// ServeHTTP is GET /api/rates. Any origin may read it (CORS): a
// dashboard served by one node sums the rates of every node, fetching
// them from the other nodes' HTTP ports. It discloses nothing /metrics
// does not.
func (rs *rateSampler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, RatesJSON{Node: rs.node, Points: rs.points()})
}
