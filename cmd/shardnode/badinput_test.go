package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInputFlags runs `shardnode start` as a real process with bad
// command-line input: each exits with status 1 and a message naming what
// is wrong, without serving. (Config files and environment values:
// TestConfigErrors and TestStartConfigProcess.)
func TestBadInputFlags(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"unknown_flag", []string{"--no-such"}, "unknown flag: --no-such"},
		{"extra_argument", []string{"extra"}, `unknown command "extra" for "shardnode start"`},
		{"id_not_a_number", []string{"--id", "abc"}, `invalid argument "abc" for "--id" flag`},
		{"id_zero", []string{"--id", "0"}, "--id must be positive"},
		{"peers_malformed", []string{"--peers", "1="}, `--peers: "1=" is not id=host:port`},
		{"peers_without_this_node", []string{"--id", "4", "--peers", "1=127.0.0.1:1,2=127.0.0.1:2"}, "lacks this node"},
		{"shards_zero", []string{"--shards", "0"}, "into 0 ranges"},
		{"log_level_unknown", []string{"--log-level", "loud"}, `--log-level "loud"`},
		{"client_addr_without_port", []string{"--client-addr", "nohost"}, "RESP listen on nohost"},
		{"data_dir_is_a_file", []string{"--data-dir", notDir}, "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"start", "--data-dir", t.TempDir(), "--client-addr", "127.0.0.1:0",
				"--http-addr", "127.0.0.1:0", "--log-level", "warn"}, tc.args...)
			wantExit1(t, args, tc.says)
		})
	}
}

// TestBadInputPortsBeforeDisk: a client or HTTP port that cannot be bound
// fails `shardnode start` before anything is written to the data
// directory (it once created and bootstrapped every shard first, leaving
// a store behind for a node that never ran).
func TestBadInputPortsBeforeDisk(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct{ name, client, http, says string }{
		{"client_port_in_use", busy.Addr().String(), "127.0.0.1:0", "RESP listen on " + busy.Addr().String()},
		{"http_port_in_use", "127.0.0.1:0", busy.Addr().String(), "HTTP listen on " + busy.Addr().String()},
		{"client_addr_without_port", "nohost", "127.0.0.1:0", "RESP listen on nohost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			wantExit1(t, []string{"start", "--data-dir", dir, "--client-addr", tc.client,
				"--http-addr", tc.http, "--log-level", "warn"}, tc.says)
			if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				t.Fatalf("the failed start left %d entries in its data directory (first %q)", len(entries), entries[0].Name())
			} else if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		})
	}
}

// wantExit1 runs shardnode with args and wants exit status 1 and says in
// its output.
func wantExit1(t *testing.T, args []string, says string) {
	t.Helper()
	cmd := exec.Command(shardnodeBin, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("shardnode %v still running after 60 s", args)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), says) {
		t.Fatalf("shardnode %v: %v; output %q; want exit status 1 and %q", args, err, out, says)
	}
}

// TestBadInputDataDirOfAnotherNode starts node 1 on a directory, then
// starts node 2 on the same one: the second refuses to open it, naming
// both node IDs, and node 1 still opens it afterwards.
func TestBadInputDataDirOfAnotherNode(t *testing.T) {
	dir := t.TempDir()
	start := func(id string) []string {
		return []string{"start", "--id", id, "--data-dir", dir, "--client-addr", "127.0.0.1:0",
			"--http-addr", "127.0.0.1:0", "--log-level", "warn"}
	}
	p := startProc(t, shardnodeBin, start("1")...)
	p.waitLine(t, "node 1:", 30*time.Second)
	p.interrupt(t)
	wantExit1(t, start("2"), "belongs to node 1 of cluster 1, not to node 2 of cluster 1")
	p = startProc(t, shardnodeBin, start("1")...)
	p.waitLine(t, "node 1:", 30*time.Second)
	p.interrupt(t)
}
