package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// writeConfig writes a config file in a test directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseStart parses args as `shardnode start` would and applies the
// environment and config file; it returns the start command, whose
// flags then hold the effective values.
func parseStart(t *testing.T, args ...string) (*cobra.Command, error) {
	t.Helper()
	root := newRootCmd()
	start, rest, err := root.Find(append([]string{"start"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	if err := start.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return start, start.PreRunE(start, nil)
}

func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	f := cmd.Flags().Lookup(name)
	if f == nil {
		t.Fatalf("no flag --%s", name)
	}
	return f.Value.String()
}

// TestConfigPrecedence: a flag on the command line beats its environment
// variable, which beats the config file, which beats the default; array
// values become comma lists; an inherited flag (--log-level) is
// configurable too; FLOTILLA_CONFIG names the file when --config is not
// given.
func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `
# a node's configuration
id = 2
data-dir = "/from/file"
client-addr = "file:1"
http-addr = "file:2"
log-level = "warn"
peers = ["1=a:7001", "2=b:7001"]
`)
	t.Setenv("FLOTILLA_CLIENT_ADDR", "env:1")
	t.Setenv("FLOTILLA_HTTP_ADDR", "env:2")
	t.Setenv("FLOTILLA_RAFT_ADDR", "env:3")
	cmd, err := parseStart(t, "--config", path, "--http-addr", "flag:2")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"id":          "2",                 // file
		"data-dir":    "/from/file",        // file
		"client-addr": "env:1",             // env over file
		"http-addr":   "flag:2",            // flag over env and file
		"raft-addr":   "env:3",             // env over default
		"shards":      "8",                 // default
		"log-level":   "warn",              // file, a persistent flag of the root
		"peers":       "1=a:7001,2=b:7001", // array
	} {
		if got := flagValue(t, cmd, name); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}

	t.Setenv("FLOTILLA_CONFIG", path)
	cmd, err = parseStart(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(t, cmd, "data-dir"); got != "/from/file" {
		t.Fatalf("FLOTILLA_CONFIG: --data-dir = %q", got)
	}
}

// TestConfigErrors: a bad config file or environment value is an error
// that names the file (or variable) and the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"syntax", "data-dir = \"unterminated\nid = 1\n", []string{"line 1"}},
		{"unknown key", "data-dir = \"d\"\nno-such-flag = 1\n", []string{`unknown key "no-such-flag"`}},
		{"bad value", "shards = \"many\"\n", []string{`key "shards"`, "many"}},
		{"negative id", "id = -1\n", []string{`key "id"`}},
		{"table", "[server]\nhttp-addr = \"x\"\n", []string{`unknown key "server"`}},
		{"config key", "config = \"other.toml\"\n", []string{`unknown key "config"`}},
		{"date", "data-dir = 2026-01-01\n", []string{`key "data-dir"`, "string, number or boolean"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := parseStart(t, "--config", path)
			if err == nil {
				t.Fatalf("%q accepted", tc.text)
			}
			for _, want := range append(tc.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	if _, err := parseStart(t, "--config", filepath.Join(t.TempDir(), "missing.toml")); err == nil ||
		!strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing file: %v", err)
	}
	t.Setenv("FLOTILLA_SHARDS", "lots")
	if _, err := parseStart(t); err == nil || !strings.Contains(err.Error(), `FLOTILLA_SHARDS="lots"`) {
		t.Fatalf("bad environment value: %v", err)
	}
}

// TestStartConfigProcess runs `shardnode start` as a real process
// configured by a file and the environment, then with a bad file.
func TestStartConfigProcess(t *testing.T) {
	a := freeAddrs(t, 2)
	path := writeConfig(t, "# single node\nid = 1\ndata-dir = '"+t.TempDir()+"'\nhttp-addr = '"+a[1]+"'\nlog-level = 'warn'\nshards = 2\n")
	t.Setenv("FLOTILLA_CLIENT_ADDR", a[0])
	p := startProc(t, shardnodeBin, "start", "--config", path)
	resp, http := addrs(t, p.waitLine(t, "node 1:", 30*time.Second))
	if resp[0] != a[0] || http[0] != a[1] {
		t.Fatalf("listening on resp=%s http=%s, want %s (environment) and %s (file)", resp[0], http[0], a[0], a[1])
	}
	p.interrupt(t)

	bad := writeConfig(t, "data-dir = 'd'\nshards = 'x'\n")
	out, err := exec.Command(shardnodeBin, "start", "--config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), bad) || !strings.Contains(string(out), `key "shards"`) {
		t.Fatalf("bad config file: %v, output %q", err, out)
	}
}
