package server

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// redisTool finds a redis-tools binary; .ci/run installs Debian's
// redis-tools, so the skip only happens on a machine set up by hand.
func redisTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install redis-tools; .ci/run does it)", name)
	}
	return p
}

func runTool(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, redisTool(t, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestRedisCLI drives the real redis-cli: one-shot commands, commands
// read from standard input (as a script would), --scan, and INFO.
func TestRedisCLI(t *testing.T) {
	n := openSingle(t, func(o *NodeOptions) { o.Server.Password = "pw" })
	port := portOf(n.Server.ClientAddr())
	base := []string{"-h", "127.0.0.1", "-p", port, "--no-auth-warning", "-a", "pw"}
	if out := runTool(t, "", "redis-cli", append(base, "SET", "k0001", "hello world")...); strings.TrimSpace(out) != "OK" {
		t.Fatalf("SET: %q", out)
	}
	if out := runTool(t, "", "redis-cli", append(base, "GET", "k0001")...); strings.TrimSpace(out) != "hello world" {
		t.Fatalf("GET: %q", out)
	}
	script := "SET k0002 2\nINCRBY k0002 40\nMSET k0003 a k9000 b\nMGET k0002 k0003 k9000 nope\nDBSIZE\nPING\n"
	out := runTool(t, script, "redis-cli", base...)
	want := "OK\n42\nOK\n42\na\nb\n\n4\nPONG\n"
	if out != want {
		t.Fatalf("script output %q, want %q", out, want)
	}
	out = runTool(t, "", "redis-cli", append(base, "--scan", "--pattern", "k000*")...)
	if out != "k0001\nk0002\nk0003\n" {
		t.Fatalf("--scan: %q", out)
	}
	out = runTool(t, "", "redis-cli", append(base, "INFO", "cluster")...)
	if !strings.Contains(out, "flotilla_shards:4") {
		t.Fatalf("INFO cluster: %q", out)
	}
	out = runTool(t, "", "redis-cli", "-p", port, "GET", "k0001")
	if !strings.Contains(out, "NOAUTH") {
		t.Fatalf("GET without AUTH: %q", out)
	}
}

// TestRedisBenchmark runs the real redis-benchmark against a 3-node
// cluster, pipelined and not: every request must succeed.
func TestRedisBenchmark(t *testing.T) {
	nodes := openCluster(t)
	port := portOf(nodes[0].Server.ClientAddr())
	out := runTool(t, "", "redis-benchmark", "-h", "127.0.0.1", "-p", port,
		"-t", "ping,set,get,incr,mset", "-n", "600", "-c", "8", "-r", "1000", "-q")
	for _, want := range []string{"PING_INLINE", "SET:", "GET:", "INCR:", "MSET"} {
		if !strings.Contains(out, want) {
			t.Fatalf("redis-benchmark output lacks %q:\n%s", want, out)
		}
	}
	out = runTool(t, "", "redis-benchmark", "-h", "127.0.0.1", "-p", port,
		"-t", "set,get", "-n", "2000", "-c", "4", "-P", "16", "-q")
	if !strings.Contains(out, "SET:") || !strings.Contains(out, "GET:") {
		t.Fatalf("pipelined redis-benchmark:\n%s", out)
	}
	t.Logf("redis-benchmark:\n%s", out)
}

// TestRedisCLIInteractive starts redis-cli in interactive mode on a
// pseudo-terminal (util-linux's script; TERM=dumb keeps its line editor
// simple): it must connect, show its prompt and print replies.
func TestRedisCLIInteractive(t *testing.T) {
	cli := redisTool(t, "redis-cli")
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed: cannot give redis-cli a terminal")
	}
	n := openSingle(t, nil)
	port := portOf(n.Server.ClientAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qfec", cli+" -p "+port, "/dev/null")
	cmd.Env = append(cmd.Environ(), "TERM=dumb")
	cmd.Stdin = strings.NewReader("set k0001 hello\nget k0001\nincr k0002\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interactive redis-cli: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), "\r", "")
	prompt := "127.0.0.1:" + port + "> "
	for _, want := range []string{prompt + "OK", prompt + `"hello"`, prompt + "(integer) 1"} {
		if !strings.Contains(text, want) {
			t.Fatalf("interactive output lacks %q:\n%s", want, text)
		}
	}
}
