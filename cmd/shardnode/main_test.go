package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
)

// shardnodeBin is the command built once by TestMain.
var shardnodeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shardnode-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shardnodeBin = filepath.Join(dir, "shardnode")
	if out, err := exec.Command("go", "build", "-o", shardnodeBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func buildShardnode(t *testing.T) string {
	t.Helper()
	return shardnodeBin
}

// proc is a running shardnode whose standard output is read line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
	done   chan error
	last   string // the last output line, once the process has exited
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 100), done: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine returns the output lines up to and including the first one
// starting with prefix.
func (p *proc) waitLine(t *testing.T, prefix string, timeout time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("shardnode exited before %q; output %q; stderr:\n%s", prefix, got, p.stderr.String())
			}
			got = append(got, l)
			if strings.HasPrefix(l, prefix) {
				return got
			}
		case <-deadline:
			t.Fatalf("no %q line after %v; output %q; stderr:\n%s", prefix, timeout, got, p.stderr.String())
		}
	}
}

// interrupt sends SIGINT and waits for a clean exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var last string
	for l := range p.lines {
		last = l
	}
	p.last = last
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("shardnode exited with %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shardnode did not stop within 30s of SIGINT")
	}
}

var nodeLine = regexp.MustCompile(`^node (\d): resp=(\S+) http=http://(\S+) raft=`)

// addrs parses the node lines: RESP and HTTP address per node.
func addrs(t *testing.T, lines []string) (resp, http []string) {
	for _, l := range lines {
		if m := nodeLine.FindStringSubmatch(l); m != nil {
			resp, http = append(resp, m[2]), append(http, m[3])
		}
	}
	if len(resp) == 0 {
		t.Fatalf("no node lines in %q", lines)
	}
	return resp, http
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("shardnode %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestLocalProcess builds shardnode, runs `local` as a real process,
// talks RESP and HTTP to it, stops it with SIGINT, restarts it on the same
// data directory and finds the data again.
func TestLocalProcess(t *testing.T) {
	bin := buildShardnode(t)
	dir := t.TempDir()
	args := []string{"local", "--data-dir", dir, "--client-port", "0", "--http-port", "0", "--shards", "4", "--log-level", "warn"}
	p := startProc(t, bin, args...)
	lines := p.waitLine(t, "ready:", 60*time.Second)
	resp, http := addrs(t, lines)
	if len(resp) != 3 {
		t.Fatalf("%d nodes in %q", len(resp), lines)
	}
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		c := redis.NewClient(&redis.Options{Addr: resp[i%3], Protocol: 2})
		k := fmt.Sprintf("key:%012d", i*33_333_333_333)
		if err := c.Set(ctx, k, fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("SET %s via %s: %v", k, resp[i%3], err)
		}
		_ = c.Close()
	}
	c := redis.NewClient(&redis.Options{Addr: resp[2], Protocol: 2})
	defer c.Close()
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 30 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	testClientCommands(t, bin, http[1])
	p.interrupt(t)
	if p.last != "stopped" {
		t.Fatalf("last output line %q, want stopped", p.last)
	}

	p = startProc(t, bin, args...)
	resp, _ = addrs(t, p.waitLine(t, "ready:", 60*time.Second))
	c2 := redis.NewClient(&redis.Options{Addr: resp[0], Protocol: 2})
	defer c2.Close()
	if v, err := c2.Get(ctx, fmt.Sprintf("key:%012d", 29*33_333_333_333)).Result(); err != nil || v != "29" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
	p.interrupt(t)
}

func testClientCommands(t *testing.T, bin, addr string) {
	if out := run(t, bin, "put", "--addr", addr, "greeting", "hello there"); out != "OK\n" {
		t.Fatalf("put: %q", out)
	}
	if out := run(t, bin, "get", "--addr", addr, "greeting"); out != "hello there\n" {
		t.Fatalf("get: %q", out)
	}
	if out := run(t, bin, "scan", "--addr", addr, "--start", "g", "--end", "h"); out != "greeting\thello there\n" {
		t.Fatalf("scan: %q", out)
	}
	if out := run(t, bin, "del", "--addr", addr, "greeting"); out != "deleted\n" {
		t.Fatalf("del: %q", out)
	}
	out, err := exec.Command(bin, "get", "--addr", addr, "greeting").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not found") {
		t.Fatalf("get of a deleted key: %v %q", err, out)
	}
	out2 := run(t, bin, "status", "--addr", addr)
	for _, want := range []string{"node 2", "ready: yes", "SHARD", "key:250000000000"} {
		if !strings.Contains(out2, want) {
			t.Fatalf("status lacks %q:\n%s", want, out2)
		}
	}
}

// TestStartSingleNode runs `start` without peers as a real process.
func TestStartSingleNode(t *testing.T) {
	bin := buildShardnode(t)
	p := startProc(t, bin, "start", "--id", "1", "--data-dir", t.TempDir(),
		"--client-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "warn")
	resp, _ := addrs(t, p.waitLine(t, "node 1:", 30*time.Second))
	c := redis.NewClient(&redis.Options{Addr: resp[0], Protocol: 2})
	defer c.Close()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Set(ctx, "a", "b", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, _ := c.Get(ctx, "a").Result(); v != "b" {
		t.Fatalf("GET = %q", v)
	}
	p.interrupt(t)
}

func TestParsePeers(t *testing.T) {
	m, err := parsePeers("--peers", "1=127.0.0.1:7001, 2=h:2")
	if err != nil || len(m) != 2 || m[1] != "127.0.0.1:7001" || m[2] != "h:2" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"1", "x=a", "0=a:1", "1=", "1=a:1,1=b:2"} {
		if _, err := parsePeers("--peers", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	f := startFlags{id: 4, peers: "1=a:1,2=b:2", split: splitFlags{shards: 1, keyFormat: "k%d", keySpace: 10}}
	if _, err := f.nodeOptions(); err == nil || !strings.Contains(err.Error(), "lacks this node") {
		t.Fatalf("peers without --id accepted: %v", err)
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Short == "" {
			t.Errorf("%s has no help", c.Name())
		}
		c.Flags().VisitAll(func(f *pflagFlag) {
			if f.Usage == "" {
				t.Errorf("%s --%s has no help", c.Name(), f.Name)
			}
		})
	}
}

type pflagFlag = pflag.Flag
