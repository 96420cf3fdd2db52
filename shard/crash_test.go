package shard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The kill -9 test runs the test binary again as a child process that
// writes to a single-node store and reports each acknowledged write on
// stdout; the parent kills it with SIGKILL at a random moment, reopens the
// store on the same directory and checks that every acknowledged write is
// there. Rounds reuse the directory, so a child also opens a store that
// the previous child left killed. The cluster variant runs a whole 3-node
// TCP cluster in the child and kills all of it at once.

const (
	crashChildEnv      = "FLOTILLA_SHARD_CRASH_CHILD" // the data directory; set only in the child
	crashRoundEnv      = "FLOTILLA_SHARD_CRASH_ROUND"
	crashClusterEnv    = "FLOTILLA_SHARD_CRASH_CLUSTER" // dirs and addresses of a 3-node cluster; set only in the child
	crashWriters       = 4
	crashKeysPerWriter = 16
)

// crashOp is the seq'th write of writer w in round r: a put or (every
// sixth) a delete of one of w's own keys. Parent and child derive it
// alike, so the child only reports (w, seq).
func crashOp(round, w, seq int) (key, value string, del bool) {
	key = fmt.Sprintf("k%06d", (w+crashWriters*((seq*7)%crashKeysPerWriter))*15000+7)
	if seq%6 == 0 {
		return key, "", true
	}
	return key, fmt.Sprintf("r%d.w%d.s%d.", round, w, seq) + strings.Repeat("v", (seq*37)%300), false
}

func crashOptions(dir string) Options {
	return Options{Dir: dir, SplitKeys: [][]byte{[]byte("k250000"), []byte("k500000"), []byte("k750000")},
		TickInterval: 5 * time.Millisecond, SyncInterval: 10 * time.Millisecond, MaxLogEntries: 100}
}

// crashFail reports a failure to the parent and exits.
func crashFail(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "error "+format+"\n", args...)
	os.Exit(3)
}

// crashChild is the child's side: open, write until killed.
func crashChild(dir string) {
	s, err := Open(context.Background(), crashOptions(dir))
	if err != nil {
		crashFail("open: %v", err)
	}
	crashWrite(func(key string, value []byte, del bool) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if del {
			return s.Delete(ctx, []byte(key))
		}
		return s.Put(ctx, []byte(key), value)
	})
}

// crashWrite runs the writers until the process is killed, reporting
// each acknowledged write on stdout.
func crashWrite(write func(key string, value []byte, del bool) error) {
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	var out sync.Mutex
	say := func(line string) {
		out.Lock()
		_, _ = os.Stdout.WriteString(line) // one write per line: no torn lines on the pipe
		out.Unlock()
	}
	for w := 0; w < crashWriters; w++ {
		go func() {
			for seq := 1; ; seq++ {
				key, value, del := crashOp(round, w, seq)
				if err := write(key, []byte(value), del); err != nil {
					crashFail("writer %d seq %d: %v", w, seq, err)
				}
				say(fmt.Sprintf("ack %d %d\n", w, seq))
			}
		}()
	}
	time.Sleep(time.Minute) // the parent kills us long before
	crashFail("not killed")
}

// crashRun is what the parent learned from one child.
type crashRun struct {
	acked  [crashWriters]int
	failed string
}

// runCrashChild starts a child on dir for round, kills it with SIGKILL
// after killAfter acknowledged writes (or, if killAfter < 0, after
// -killAfter microseconds from its start), and returns what it reported.
func runCrashChild(t *testing.T, test string, env []string, round, killAfter int) crashRun {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$")
	cmd.Env = append(append(os.Environ(), env...), crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		stalled bool
	)
	kill := func() { _ = cmd.Process.Kill() } // SIGKILL
	watchdog := time.AfterFunc(60*time.Second, func() {
		mu.Lock()
		stalled = true
		mu.Unlock()
		kill()
	})
	defer watchdog.Stop()
	if killAfter < 0 {
		timer := time.AfterFunc(time.Duration(-killAfter)*time.Microsecond, kill)
		defer timer.Stop()
	}
	var run crashRun
	acks := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() { // until the child dies and its stdout closes
		line := sc.Text()
		run.parse(line)
		if strings.HasPrefix(line, "ack ") {
			if acks++; acks == killAfter {
				kill()
			}
		}
	}
	mu.Lock()
	if stalled {
		run.failed = "child made no progress for 60s"
	}
	mu.Unlock()
	kill()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Success() {
		t.Fatalf("child: %v (want killed); stderr:\n%s", err, stderr.String())
	}
	if run.failed != "" {
		t.Fatalf("child: %s; stderr:\n%s", run.failed, stderr.String())
	}
	return run
}

func (run *crashRun) parse(line string) {
	switch {
	case strings.HasPrefix(line, "ack "):
		var w, seq int
		if _, err := fmt.Sscanf(line, "ack %d %d", &w, &seq); err != nil || w < 0 || w >= crashWriters {
			run.failed = fmt.Sprintf("bad line %q", line)
			return
		}
		if seq != run.acked[w]+1 {
			run.failed = fmt.Sprintf("writer %d acknowledged seq %d after %d", w, seq, run.acked[w])
		}
		run.acked[w] = seq
	case strings.HasPrefix(line, "error "):
		run.failed = line
	}
}

func TestCrashRecoveryKill9(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	seed := linTestSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	rounds := 5
	if testing.Short() {
		rounds = 3
	}
	dir := t.TempDir()
	// allowed holds, per key, the values it may have ("" absent): one
	// after an acknowledged write, two while a write the kill interrupted
	// may or may not have been applied.
	allowed := map[string]map[string]bool{}
	for round := 1; round <= rounds; round++ {
		killAfter := 1 + rng.IntN(600)
		if rng.IntN(4) == 0 {
			killAfter = -rng.IntN(300000) // by time: maybe during open or recovery
		}
		run := runCrashChild(t, "TestCrashRecoveryKill9", []string{crashChildEnv + "=" + dir}, round, killAfter)
		t.Logf("round %d: killed after %v acknowledged writes (kill point %d)", round, run.acked, killAfter)
		run.narrow(allowed, round)
		// Every other round the next child opens what this one left
		// killed; the others are checked here first.
		if round%2 == 1 || round == rounds {
			checkCrashState(t, dir, round, allowed)
		}
	}
}

// narrow updates allowed with what the round's child acknowledged, and
// the one write per writer that may have been in flight at the kill.
func (run *crashRun) narrow(allowed map[string]map[string]bool, round int) {
	for w := 0; w < crashWriters; w++ {
		for seq := 1; seq <= run.acked[w]+1; seq++ {
			key, value, _ := crashOp(round, w, seq)
			if seq <= run.acked[w] {
				allowed[key] = map[string]bool{value: true}
			} else if allowed[key] != nil {
				allowed[key][value] = true // in flight at the kill
			} else {
				allowed[key] = map[string]bool{"": true, value: true}
			}
		}
	}
}

// checkCrashState opens the store in dir, checks every key against
// allowed and that nothing else is there, narrows allowed to what it
// found, and closes the store.
func checkCrashState(t *testing.T, dir string, round int, allowed map[string]map[string]bool) {
	t.Helper()
	s, err := Open(context.Background(), crashOptions(dir))
	if err != nil {
		t.Fatalf("round %d: reopening after kill -9: %v", round, err)
	}
	defer s.Close()
	waitLeaders(t, s)
	ctx := context.Background()
	for key, vals := range allowed {
		v, found, err := s.Get(ctx, []byte(key))
		if err != nil {
			t.Fatalf("round %d: get %s: %v", round, key, err)
		}
		if !found {
			v = nil
		}
		if !vals[string(v)] {
			t.Fatalf("round %d: %s = %.40q, want one of %s", round, key, v, describeAllowed(vals))
		}
		allowed[key] = map[string]bool{string(v): true}
	}
	kvs, err := s.Scan(ctx, nil, nil, 1<<20)
	if err != nil {
		t.Fatalf("round %d: scan: %v", round, err)
	}
	for _, kv := range kvs {
		if !allowed[string(kv.Key)][string(kv.Value)] {
			t.Fatalf("round %d: scan found %s = %.40q, which no write put there", round, kv.Key, kv.Value)
		}
	}
	present := 0
	for _, vals := range allowed {
		if !vals[""] {
			present++
		}
	}
	if len(kvs) != present {
		t.Fatalf("round %d: scan returned %d keys, want %d", round, len(kvs), present)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("round %d: close: %v", round, err)
	}
}

func describeAllowed(vals map[string]bool) string {
	var b strings.Builder
	for v := range vals {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.40q", v)
	}
	return b.String()
}

// TestCrashRecoveryKill9Cluster kills a whole 3-node cluster over TCP at
// once (all three nodes run in one child process), then restarts it in
// the parent: every write acknowledged before the kill must be readable,
// and every node must converge on it.
func TestCrashRecoveryKill9Cluster(t *testing.T) {
	if spec := os.Getenv(crashClusterEnv); spec != "" {
		dirs, addrs, _ := strings.Cut(spec, ";")
		c := newTCPClusterAt(t, strings.Split(dirs, ","), strings.Split(addrs, ","), 4, 1, nil)
		crashWrite(func(key string, value []byte, del bool) error {
			return c.do([]byte(key), func(s *Store) error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if del {
					return s.Delete(ctx, []byte(key))
				}
				return s.Put(ctx, []byte(key), value)
			})
		})
		return
	}
	seed := linTestSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0xc1a5))
	rounds := 2
	if testing.Short() {
		rounds = 1
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	addrs := freeAddrs(t, 3)
	spec := strings.Join(dirs, ",") + ";" + strings.Join(addrs, ",")
	allowed := map[string]map[string]bool{}
	for round := 1; round <= rounds; round++ {
		killAfter := 1 + rng.IntN(300)
		start := time.Now()
		run := runCrashChild(t, "TestCrashRecoveryKill9Cluster", []string{crashClusterEnv + "=" + spec}, round, killAfter)
		t.Logf("round %d: killed after %v acknowledged writes (kill point %d) in %v", round, run.acked, killAfter,
			time.Since(start).Round(time.Millisecond))
		run.narrow(allowed, round)
		start = time.Now()
		checkCrashCluster(t, dirs, addrs, round, allowed)
		t.Logf("round %d: restarted and checked in %v", round, time.Since(start).Round(time.Millisecond))
	}
}

// checkCrashCluster restarts the cluster, checks every key with a
// linearizable read and then on every node, and narrows allowed.
func checkCrashCluster(t *testing.T, dirs, addrs []string, round int, allowed map[string]map[string]bool) {
	t.Helper()
	c := newTCPClusterAt(t, dirs, addrs, 4, 1, nil)
	defer c.close()
	deadline := time.Now().Add(30 * time.Second)
	for key, vals := range allowed {
		v, found := c.get(key)
		if !found {
			v = ""
		}
		if !vals[v] {
			t.Fatalf("round %d: %s = %.40q, want one of %s", round, key, v, describeAllowed(vals))
		}
		allowed[key] = map[string]bool{v: true}
		for _, id := range c.live() {
			c.waitStale(id, key, v, deadline)
		}
	}
}
