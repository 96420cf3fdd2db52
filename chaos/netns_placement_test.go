package chaos

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNetnsPlacementLinearizable: five shardnode processes, each in a
// network namespace of its own, forming a placement cluster (gossip over
// the namespaces' addresses, 3 replicas per shard, a 6 s dead timeout)
// under the network faults, the admin operations (move, leadership
// transfer, split) and kill -9 / SIGSTOP; and, between those, outages:
// one node killed, paused or cut from every peer until the meta leader's
// driver has declared it lost and re-created its replicas elsewhere.
// During an outage's first dead timeout every network fault goes on;
// after it, in the repair window, only those that cut no link (packet
// loss, a slow link), with transfers and splits, for at least repairMin
// and at most outageSlack: with the victim out, each of its shards has
// two live replicas and the meta shard four of its five, so any cut
// between live nodes can leave one without a quorum, and the driver with
// nothing it could do. The run fails if the driver re-created no replica
// of a victim in any outage, and if the healed cluster does not
// come back to every node live, every shard with 3 replicas and a
// leader, and no move in flight, in every node's view.
func TestNetnsPlacementLinearizable(t *testing.T) {
	needChaos(t)
	faults := append(append(NetworkFaults(), PlacementFaults()...), ProcessFaults()...)
	cfg := linDefaults(faults)
	cfg.nodes, cfg.placement, cfg.net = 5, true, testNet(t, 5)
	cfg.deadTimeout = 6 * time.Second
	if !longMode() {
		cfg.duration = 45 * time.Second // room for one outage or two
	}
	cfg.director = newOutageDirector
	soak(t, cfg)
}

// The outages' bounds: an outage lasts until the driver has moved every
// replica off the victim, at most the dead timeout plus outageSlack
// after the repair window opened, and at least repairMin of that window
// even past the run's end; one starts only if the dead timeout plus
// repairMin is left, and calm phases of ordinary faults (calmMin plus up
// to calmSpread) come between them. An outage polls one node's cluster
// view at a time, within viewTimeout, which bounds the admin faults'
// requests too: the next step waits on the poll, and no view can be had
// while a fault leaves the meta shard without a quorum, so a poll that
// tried every live node in turn held such a fault far past the nemesis's
// gaps (20 s of a 2|2 partition of the live nodes, seed
// 1796610423798698420).
const (
	outageSlack = 30 * time.Second
	repairMin   = 15 * time.Second
	viewTimeout = 5 * time.Second
	longOutage  = 40 * time.Second
	longRun     = 90 * time.Second // runs longer have long outages (long mode's 2 minutes)
	calmMin     = 3 * time.Second
	calmSpread  = 5 * time.Second
	replicas    = 3 // shardnode's default --replicas
)

// outageFaults are what the nemesis does during an outage's first dead
// timeout: the network faults (around the victim's own isolation, which
// they leave alone), and the admin operations but moves, so that a
// replica leaving the victim is the driver's doing.
func outageFaults() []Fault {
	return append(NetworkFaults(), FaultTransfer, FaultSplit)
}

// repairFaults are what the nemesis does in an outage's repair window:
// the network faults that cut no link (they slow and thin the traffic;
// every shard keeps a quorum among the live nodes), and transfers and
// splits.
func repairFaults() []Fault {
	return []Fault{FaultLossy, FaultSlow, FaultTransfer, FaultSplit}
}

// outageDirector alternates calm phases (Nemesis.Step with every fault)
// and outages (see TestNetnsPlacementLinearizable). It counts the moves
// the nodes' drivers started, from their metrics, and the replicas the
// driver re-created away from an outage's victim, from the cluster view.
type outageDirector struct {
	t    *testing.T
	c    *Cluster
	nm   *Nemesis
	dead time.Duration
	hc   *http.Client

	moves    *moveCounter
	stopOnce sync.Once
	quit     chan struct{} // stops the metrics watcher
	watched  chan struct{} // closed when it has stopped

	viewTurn     int  // which node the next view is asked of
	long         bool // the run lasts long enough for long outages
	outages      int
	rereplicated int
	seenMoves    map[string]bool
}

func newOutageDirector(t *testing.T, c *Cluster, nm *Nemesis) director {
	nm.AdminTimeout = viewTimeout
	d := &outageDirector{t: t, c: c, nm: nm, dead: c.Spec.DeadTimeout, hc: &http.Client{Timeout: 5 * time.Second},
		moves: &moveCounter{last: map[int]moveReading{}}, quit: make(chan struct{}), watched: make(chan struct{}),
		seenMoves: map[string]bool{}}
	go func() {
		defer close(d.watched)
		d.moves.watch(d.quit, c, d.hc)
	}()
	t.Cleanup(d.stopWatch)
	return d
}

func (d *outageDirector) stopWatch() {
	d.stopOnce.Do(func() { close(d.quit) })
	<-d.watched
}

func (d *outageDirector) gap() time.Duration {
	return d.nm.MinGap + time.Duration(d.nm.Rng.Int64N(int64(d.nm.MaxGap-d.nm.MinGap)+1))
}

// Run alternates calm phases and outages until until.
func (d *outageDirector) Run(stop <-chan struct{}, until time.Time) error {
	d.long = time.Until(until) > longRun
	for {
		calm := calmMin + time.Duration(d.nm.Rng.Int64N(int64(calmSpread)))
		if time.Until(until) < calm+d.dead+repairMin {
			_, err := d.steps(stop, until, d.nm.Step)
			return err
		}
		if stopped, err := d.steps(stop, time.Now().Add(calm), d.nm.Step); stopped || err != nil {
			return err
		}
		if stopped, err := d.outage(stop, until); stopped || err != nil {
			return err
		}
	}
}

// steps runs step at the nemesis's random gaps until end; it reports
// whether stop was closed.
func (d *outageDirector) steps(stop <-chan struct{}, end time.Time, step func() error) (bool, error) {
	for {
		gap := d.gap()
		if time.Now().Add(gap).After(end) {
			return sleepOrStop(stop, time.Until(end)), nil
		}
		if sleepOrStop(stop, gap) {
			return true, nil
		}
		if err := step(); err != nil {
			return false, err
		}
	}
}

// sleepOrStop waits for d or until stop is closed, and reports which.
func sleepOrStop(stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return true
	case <-t.C:
		return false
	}
}

// outageStep is one nemesis step during an outage: no process fault (the
// nemesis would restart the victim), no admin move; in the repair
// window, no cut either.
func (d *outageDirector) outageStep(repair bool) error {
	fs := outageFaults()
	if repair {
		fs = repairFaults()
	}
	f := fs[d.nm.Rng.IntN(len(fs))]
	if f == FaultTransfer || f == FaultSplit {
		d.nm.admin(f)
		return nil
	}
	return d.nm.network(f)
}

// undoProcessFaults restarts and resumes every node, so that an outage's
// victim is the only node out (the network faults stay).
func (d *outageDirector) undoProcessFaults() error {
	killed, paused := d.nm.down()
	for _, n := range paused {
		d.nm.event("resume", "SIGCONT node %d (before an outage)", n.Spec.ID)
		n.Resume()
	}
	for _, n := range killed {
		d.nm.event("restart", "restart node %d (before an outage)", n.Spec.ID)
		if err := n.Start(); err != nil {
			return err
		}
	}
	return nil
}

// outage takes one node out until the driver has moved its replicas
// elsewhere (or the dead timeout plus outageSlack, or until, has passed),
// then brings it back. It reports whether stop was closed.
func (d *outageDirector) outage(stop <-chan struct{}, until time.Time) (bool, error) {
	if err := d.undoProcessFaults(); err != nil {
		return false, err
	}
	// The victim must hold replicas, or the driver has nothing to do.
	view, _, err := d.view(0)
	if err != nil {
		d.nm.event("outage-skipped", "outage skipped: no cluster view (%v)", err)
		return false, nil
	}
	var holders []int
	for _, n := range d.c.Nodes {
		if holds(view, n.Spec.ID) > 0 {
			holders = append(holders, n.Spec.ID)
		}
	}
	if len(holders) == 0 {
		return false, nil
	}
	id := holders[d.nm.Rng.IntN(len(holders))]
	victim := d.c.Nodes[id-1]
	kind := []string{"kill", "pause", "isolate"}[d.nm.Rng.IntN(3)]
	d.outages++
	d.nm.event("outage-"+kind, "outage: %s node %d (replicas in %d shards) until the driver re-creates them elsewhere (dead timeout %v)",
		kind, id, holds(view, id), d.dead)
	switch kind {
	case "kill":
		victim.Kill()
	case "pause":
		victim.Pause()
	case "isolate":
		if err := d.nm.Net.Isolate(id); err != nil {
			return false, err
		}
	}
	start := time.Now()
	had, gone := map[uint64]bool{}, map[uint64]bool{}
	for _, sh := range view.Shards {
		if containsInt(sh.Replicas, id) {
			had[sh.ID] = true
		}
	}
	stopped, cleared, err := d.await(stop, until, id, had, gone)
	if err != nil {
		return false, err
	}
	d.rereplicated += len(gone)
	// Now and then, in a long run, the victim stays out past memberlist's
	// GossipToTheDeadTime (30 s), after which the others no longer gossip
	// to it: membership must still heal when it returns.
	if cleared && !stopped && d.long && d.nm.Rng.IntN(3) == 0 && time.Until(until) > longOutage+10*time.Second {
		d.nm.event("outage-long", "node %d stays out %v more, past the time gossip still reaches a dead node", id, longOutage)
		var err error
		step := func() error { return d.outageStep(false) }
		if stopped, err = d.steps(stop, time.Now().Add(longOutage), step); err != nil {
			return false, err
		}
	}
	var undo error
	switch kind {
	case "kill":
		undo = victim.Start()
	case "pause":
		victim.Resume()
	case "isolate":
		undo = d.nm.Net.Rejoin()
	}
	how := "the driver moved every replica off it"
	if !cleared {
		how = "NOT every replica was moved off it"
	}
	d.nm.event("outage-end", "outage of node %d ends after %v: %s (%d of the %d shards it held re-created elsewhere)",
		id, time.Since(start).Round(100*time.Millisecond), how, len(gone), len(had))
	return stopped, undo
}

// await runs an outage: every outage fault at the nemesis's gaps for
// the dead timeout (before which the driver may not replace the victim,
// so nothing is polled), then a repair window (opened by healing any cut)
// of outageSlack, cut short by until but never below repairMin, in which
// it runs repair steps and polls the cluster view until no shard has a
// replica on victim. had holds the shards seen with a replica on the
// victim; gone collects those of them seen without one since. It reports
// whether stop was closed, and whether the victim was cleared.
func (d *outageDirector) await(stop <-chan struct{}, until time.Time, victim int, had, gone map[uint64]bool) (bool, bool, error) {
	began := time.Now()
	cuts := func() error { return d.outageStep(false) }
	if stopped, err := d.steps(stop, began.Add(d.dead), cuts); stopped || err != nil {
		return stopped, false, err
	}
	if err := d.openRepair(); err != nil {
		return false, false, err
	}
	end := maxTime(minTime(until, time.Now().Add(outageSlack)), time.Now().Add(repairMin))
	next := time.Now().Add(d.gap())
	for time.Now().Before(end) {
		if sleepOrStop(stop, 500*time.Millisecond) {
			return true, false, nil
		}
		if !time.Now().Before(next) {
			if err := d.outageStep(true); err != nil {
				d.nm.event("outage-step-failed", "outage step: %v", err)
			}
			next = time.Now().Add(d.gap())
		}
		view, via, err := d.pollView(victim)
		if err != nil {
			continue
		}
		d.noteMoves(view, via)
		for _, sh := range view.Shards {
			switch on := containsInt(sh.Replicas, victim); {
			case on:
				had[sh.ID] = true
			case had[sh.ID] && !gone[sh.ID]:
				gone[sh.ID] = true
				d.t.Logf("driver: shard %d's replica on node %d re-created elsewhere %v into the outage: replicas now %v (view of node %d)",
					sh.ID, victim, time.Since(began).Round(100*time.Millisecond), sh.Replicas, via)
			}
		}
		if len(had) > 0 && holds(view, victim) == 0 {
			return false, true, nil
		}
	}
	return false, false, nil
}

// openRepair opens an outage's repair window: it heals the network fault
// in place if it cuts a link (the victim's isolation stays), so that from
// now on every shard has a quorum among the live nodes.
func (d *outageDirector) openRepair() error {
	d.nm.event("outage-repair", "the victim has been out for the dead timeout: no more cuts until the outage ends")
	if !d.nm.netFault || !d.nm.netCuts {
		return nil
	}
	if err := d.nm.Net.Heal(); err != nil {
		return err
	}
	d.nm.netFault, d.nm.netCuts = false, false
	d.nm.event("heal", "heal the network (it cut a link)")
	return nil
}

// pollView asks one live node other than skip, in turn, for the cluster
// view, with a short timeout: the outage's steps wait on it.
func (d *outageDirector) pollView(skip int) (clusterView, int, error) {
	live := d.c.Live()
	if len(live) == 0 {
		return clusterView{}, 0, fmt.Errorf("no live node to ask")
	}
	n := live[d.viewTurn%len(live)]
	d.viewTurn++
	if n.Spec.ID == skip {
		return clusterView{}, 0, fmt.Errorf("node %d is the victim", skip)
	}
	hc := &http.Client{Timeout: viewTimeout}
	var v clusterView
	err := getJSON(hc, "http://"+n.Spec.HTTPAddr+"/api/cluster", &v)
	return v, n.Spec.ID, err
}

// noteMoves logs each move in flight the first time a view shows it.
func (d *outageDirector) noteMoves(view clusterView, via int) {
	for _, m := range view.Moves {
		key := fmt.Sprintf("%d:%d>%d", m.Shard, m.From, m.To)
		if !d.seenMoves[key] {
			d.seenMoves[key] = true
			d.t.Logf("driver: move in flight: shard %d from node %d to node %d, %s (view of node %d)", m.Shard, m.From, m.To, m.Stage, via)
		}
	}
}

// view asks a live node other than skip for the cluster view, taking the
// nodes in turn.
func (d *outageDirector) view(skip int) (clusterView, int, error) {
	live := d.c.Live()
	var err error
	for range live {
		n := live[d.viewTurn%len(live)]
		d.viewTurn++
		if n.Spec.ID == skip {
			continue
		}
		var v clusterView
		if err = getJSON(d.hc, "http://"+n.Spec.HTTPAddr+"/api/cluster", &v); err == nil {
			return v, n.Spec.ID, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("no live node to ask")
	}
	return clusterView{}, 0, err
}

// holds counts the shards with a replica on node id.
func holds(v clusterView, id int) int {
	n := 0
	for _, sh := range v.Shards {
		if containsInt(sh.Replicas, id) {
			n++
		}
	}
	return n
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Settled waits until every node's view shows the cluster converged, and
// fails the run if the driver never re-created a replica.
func (d *outageDirector) Settled(t *testing.T, res *result) {
	start := time.Now()
	why := d.converged()
	for why != "" && time.Since(start) < 2*time.Minute {
		time.Sleep(500 * time.Millisecond)
		why = d.converged()
	}
	if why != "" {
		t.Errorf("the healed cluster did not converge in %v: %s", time.Since(start).Round(time.Second), why)
	} else {
		t.Logf("the healed cluster converged in %v: every node live, every shard %d replicas and a leader, no move in flight, in every node's view",
			time.Since(start).Round(100*time.Millisecond), replicas)
	}
	d.stopWatch()
	res.DriverMoves, res.Rereplicated = d.moves.total(), d.rereplicated
	t.Logf("driver: %d outages, %d replicas of a lost node re-created elsewhere, at least %d moves started by the drivers",
		d.outages, d.rereplicated, res.DriverMoves)
	if d.rereplicated == 0 {
		t.Errorf("the driver re-created no replica of a node out past the dead timeout in %d outages: the rebalancing-under-faults path was not exercised (a -chaos.duration too short for an outage?) or the driver is stuck", d.outages)
	}
}

// converged returns "" if every node's view shows every node live, every
// shard with the configured number of replicas (on distinct nodes) and a
// leader among them, a meta leader, and no move in flight; else what is
// not so.
func (d *outageDirector) converged() string {
	for _, n := range d.c.Nodes {
		var v clusterView
		if err := getJSON(d.hc, "http://"+n.Spec.HTTPAddr+"/api/cluster", &v); err != nil {
			return fmt.Sprintf("node %d: %v", n.Spec.ID, err)
		}
		if why := convergedView(v, len(d.c.Nodes)); why != "" {
			return fmt.Sprintf("node %d's view: %s", n.Spec.ID, why)
		}
	}
	return ""
}

func convergedView(v clusterView, nodes int) string {
	if len(v.Nodes) != nodes {
		return fmt.Sprintf("%d nodes, want %d", len(v.Nodes), nodes)
	}
	for _, n := range v.Nodes {
		if n.State != "live" {
			return fmt.Sprintf("node %d is %s", n.ID, n.State)
		}
	}
	if v.MetaLeader == 0 {
		return "no meta leader"
	}
	if len(v.Moves) > 0 {
		return fmt.Sprintf("%d moves in flight (%+v)", len(v.Moves), v.Moves)
	}
	for _, sh := range v.Shards {
		distinct := slices.Compact(slices.Sorted(slices.Values(sh.Replicas)))
		switch {
		case len(sh.Replicas) != replicas || len(distinct) != replicas:
			return fmt.Sprintf("shard %d has replicas %v, want %d", sh.ID, sh.Replicas, replicas)
		case sh.Leader == 0 || !containsInt(sh.Replicas, sh.Leader):
			return fmt.Sprintf("shard %d has no leader among its replicas %v (leader %d)", sh.ID, sh.Replicas, sh.Leader)
		}
	}
	if len(v.Shards) == 0 {
		return "no shards"
	}
	return ""
}

// moveCounter sums the moves started by the nodes' drivers
// (flotilla_placement_moves_started_total; admin moves are not counted
// there), read every second from each running node: a lower bound, as a
// node killed between two readings takes its last increments with it.
type moveCounter struct {
	mu    sync.Mutex
	last  map[int]moveReading
	moves int
}

// moveReading is one node's counter and the process it came from.
type moveReading struct {
	start int // the node's start count when read
	value int
}

func (m *moveCounter) watch(quit <-chan struct{}, c *Cluster, hc *http.Client) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, n := range c.Live() {
			start := n.starts()
			v, err := movesStarted(hc, n)
			if err == nil {
				m.note(n.Spec.ID, moveReading{start: start, value: v})
			}
		}
		select {
		case <-quit:
			return
		case <-tick.C:
		}
	}
}

// note adds what node id's counter grew by since its last reading (all
// of it, if the process is a new one).
func (m *moveCounter) note(id int, r moveReading) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.last[id]
	switch {
	case !ok || prev.start != r.start:
		m.moves += r.value
	case r.value > prev.value:
		m.moves += r.value - prev.value
	}
	m.last[id] = r
}

func (m *moveCounter) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.moves
}

// starts is how many times the node's process has been started.
func (n *Node) starts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.starts
}

// movesStarted reads the node's moves_started counter from /metrics.
func movesStarted(hc *http.Client, n *Node) (int, error) {
	resp, err := hc.Get("http://" + n.Spec.HTTPAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	const name = "flotilla_placement_moves_started_total"
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: %q", line)
		}
		return int(v), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("metrics of node %d: no %s", n.Spec.ID, name)
}
