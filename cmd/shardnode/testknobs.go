package main

// Testing knobs of `shardnode start`, read from the environment and never
// offered as flags: they exist so that the chaos tests (chaos/disk_test.go,
// chaos/clock_test.go) can give a real process a failing or slow disk and
// a clock that runs at another rate. An operator has no use for them; a
// node started with one logs a warning saying so.
//
//   - FLOTILLA_TEST_FAULTS=<control file>: the node's WAL and pebble store
//     run on internal/vfs's fault-injecting file system, whose faults the
//     control file sets. The node re-reads the file whenever it changes
//     (polled every 20 ms), so a test switches faults on and off at run
//     time by rewriting it. An empty or missing file means no fault. Each
//     line is one directive, optionally limited to the WAL's or pebble's
//     files by a last word "wal" or "kv":
//
//     fail-sync [wal|kv]            every sync fails (the node must stop)
//     delay-sync MIN MAX [wal|kv]   each sync first sleeps MIN..MAX
//     delay-write MIN MAX [wal|kv]  each write first sleeps MIN..MAX
//
//   - FLOTILLA_TEST_CLOCK_RATE=<r>: the node's clock runs at r times real
//     speed as far as Raft sees it: its tick interval is divided by r (r
//     = 0.5 doubles it), so its election timeout, heartbeats and leader
//     lease, all counted in ticks, last 1/r times as long. This is clock
//     drift between nodes, which is what leases depend on.
//
//   - FLOTILLA_TEST_NO_QUIESCE=1: idle groups keep ticking. A test that
//     needs a leader's lease in use at a chosen moment sets it: a group
//     that went quiet between two requests voids its lease until a
//     heartbeat round confirms it again.

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/flotilladb/flotilla/internal/vfs"
	"github.com/flotilladb/flotilla/server"
)

const (
	testFaultsEnv    = "FLOTILLA_TEST_FAULTS"
	testClockRateEnv = "FLOTILLA_TEST_CLOCK_RATE"
	testNoQuiesceEnv = "FLOTILLA_TEST_NO_QUIESCE"
	// faultPoll is how often the control file is checked for changes.
	faultPoll = 20 * time.Millisecond
)

// errInjectedSync is the error of an injected failing sync; its text
// names the knob so that a log line shows where the fault came from.
var errInjectedSync = errors.New("injected fsync error (" + testFaultsEnv + ")")

// applyTestKnobs applies the knobs set in the environment to o. stop
// ends the control file's watcher.
func applyTestKnobs(o *server.NodeOptions, log *slog.Logger, stop <-chan struct{}) error {
	if v := os.Getenv(testClockRateEnv); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0.01 || r > 100 {
			return fmt.Errorf("%s=%q: want a rate between 0.01 and 100", testClockRateEnv, v)
		}
		tick := o.Store.TickInterval
		if tick == 0 {
			tick = 100 * time.Millisecond // shard.DefaultTickInterval
		}
		o.Store.TickInterval = time.Duration(float64(tick) / r)
		log.Warn("testing knob: this node's clock runs at another rate", "env", testClockRateEnv, "rate", r, "tick", o.Store.TickInterval)
	}
	if os.Getenv(testNoQuiesceEnv) == "1" {
		o.Store.DisableQuiesce = true
		log.Warn("testing knob: idle groups keep ticking", "env", testNoQuiesceEnv)
	}
	path := os.Getenv(testFaultsEnv)
	if path == "" {
		return nil
	}
	f := &faultKnob{path: path, log: log, wal: filepath.Join(o.Store.Dir, "wal"), kv: filepath.Join(o.Store.Dir, "kv")}
	if err := f.reload(); err != nil {
		return err
	}
	fs := vfs.Wrap(pvfs.Default, f.inject)
	o.Store.WAL.FS, o.Store.KV.FS = fs, fs
	log.Warn("testing knob: the WAL and pebble run on a fault-injecting file system", "env", testFaultsEnv, "control", path)
	go f.watch(stop)
	return nil
}

// faultRule is one directive of the control file.
type faultRule struct {
	kind     string // fail-sync, delay-sync, delay-write
	min, max time.Duration
	scope    string // "", "wal" or "kv"
}

func (r faultRule) String() string {
	s := r.kind
	if r.kind != "fail-sync" {
		s += fmt.Sprintf(" %v %v", r.min, r.max)
	}
	if r.scope != "" {
		s += " " + r.scope
	}
	return s
}

// faultKnob serves FLOTILLA_TEST_FAULTS: the rules in force and the
// injector that consults them.
type faultKnob struct {
	path, wal, kv string
	log           *slog.Logger
	rules         atomic.Pointer[[]faultRule]
	last          string // the control file's text when last read (watch only)

	mu sync.Mutex
	// dirty is, per WAL file, the range written with WriteAt since its
	// last sync that was let through.
	dirty map[string][2]int64
}

// inject is the FaultFS's Injector.
func (f *faultKnob) inject(op vfs.Op) vfs.Action {
	rules := f.rules.Load()
	if rules == nil {
		return vfs.Action{}
	}
	a := f.decide(*rules, op)
	// Sleep here rather than through Action.Delay, so that a sync's
	// bookkeeping happens just before the real fsync starts: writes made
	// during the delay are then synced by it, and must not be zeroed by a
	// later failed sync.
	time.Sleep(a.Delay)
	a.Delay = 0
	f.track(op, a.Err != nil)
	return a
}

// decide is what rules make of op.
func (f *faultKnob) decide(rules []faultRule, op vfs.Op) vfs.Action {
	var a vfs.Action
	for _, r := range rules {
		if !f.inScope(r.scope, op.Path) {
			continue
		}
		switch {
		case r.kind == "fail-sync" && op.Kind == vfs.OpSync:
			a.Err = errInjectedSync
		case r.kind == "delay-sync" && op.Kind == vfs.OpSync, r.kind == "delay-write" && op.Kind == vfs.OpWrite:
			a.Delay += r.min + rand.N(r.max-r.min+1)
		}
	}
	return a
}

// track keeps the WAL's written and unsynced ranges, and when a sync of
// a WAL file fails, zeroes what was written to it since its last sync:
// after a failed fsync Linux may drop the dirty pages (and mark them
// clean), so the bytes are gone although reads saw them. The WAL's
// segments are preallocated with zeros, so zeros are what a lost tail
// looks like. Pebble's files are written sequentially (Write) and are
// left alone: pebble stops the process on any failed sync anyway.
func (f *faultKnob) track(op vfs.Op, failed bool) {
	if !strings.HasPrefix(op.Path, f.wal) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case op.Kind == vfs.OpWrite && op.Offset >= 0:
		if f.dirty == nil {
			f.dirty = map[string][2]int64{}
		}
		lo, hi := op.Offset, op.Offset+int64(op.Len)
		if d, ok := f.dirty[op.Path]; ok {
			lo, hi = min(lo, d[0]), max(hi, d[1])
		}
		f.dirty[op.Path] = [2]int64{lo, hi}
	case op.Kind == vfs.OpSync && !failed:
		delete(f.dirty, op.Path)
	case op.Kind == vfs.OpSync:
		d, ok := f.dirty[op.Path]
		if !ok {
			return
		}
		delete(f.dirty, op.Path)
		err := zeroRange(op.Path, d[0], d[1])
		f.log.Warn("testing knob: a failed sync dropped the file's unsynced bytes", "file", op.Path, "from", d[0], "to", d[1], "err", err)
	}
}

func zeroRange(path string, lo, hi int64) error {
	file, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = file.WriteAt(make([]byte, hi-lo), lo)
	return errors.Join(err, file.Close())
}

func (f *faultKnob) inScope(scope, path string) bool {
	switch scope {
	case "wal":
		return strings.HasPrefix(path, f.wal)
	case "kv":
		return strings.HasPrefix(path, f.kv)
	}
	return true
}

// watch re-reads the control file whenever its text changes.
func (f *faultKnob) watch(stop <-chan struct{}) {
	t := time.NewTicker(faultPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if err := f.reload(); err != nil {
			f.log.Error("testing knob: control file", "env", testFaultsEnv, "err", err)
		}
	}
}

// reload reads the control file and puts its rules in force if its text
// changed. A missing file means no fault.
func (f *faultKnob) reload() error {
	b, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if string(b) == f.last && f.rules.Load() != nil {
		return nil
	}
	rules, err := parseFaultRules(string(b))
	if err != nil {
		return fmt.Errorf("%s %s: %w", testFaultsEnv, f.path, err)
	}
	f.last = string(b)
	f.rules.Store(&rules)
	f.log.Warn("testing knob: disk faults now in force", "rules", fmt.Sprint(rules))
	return nil
}

// parseFaultRules parses the control file's text.
func parseFaultRules(text string) ([]faultRule, error) {
	rules := []faultRule{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		words := strings.Fields(sc.Text())
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		r := faultRule{kind: words[0]}
		if last := words[len(words)-1]; len(words) > 1 && (last == "wal" || last == "kv") {
			r.scope, words = last, words[:len(words)-1]
		}
		switch {
		case r.kind == "fail-sync" && len(words) == 1:
		case (r.kind == "delay-sync" || r.kind == "delay-write") && len(words) == 3:
			var e1, e2 error
			r.min, e1 = time.ParseDuration(words[1])
			r.max, e2 = time.ParseDuration(words[2])
			if e1 != nil || e2 != nil || r.min < 0 || r.max < r.min {
				return nil, fmt.Errorf("line %d: want %s MIN MAX with 0 <= MIN <= MAX", n, r.kind)
			}
		default:
			return nil, fmt.Errorf("line %d: %q is not fail-sync, delay-sync MIN MAX or delay-write MIN MAX [wal|kv]", n, sc.Text())
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}
