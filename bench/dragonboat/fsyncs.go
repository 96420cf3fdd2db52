package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fsyncCounter counts the fsync and fdatasync system calls this process
// makes over a window, with `perf stat` on the kernel's syscall
// tracepoints. dragonboat does not report its syncs, and its LogDB
// (pebble) issues fdatasync on the raw file descriptor, below any file
// system wrapper this harness could install without changing how it
// syncs. perf counts in the kernel and stops nothing, so it does not
// slow the process.
//
// NB: perf -p attaches to the threads that exist when it starts; a
// thread the Go runtime creates inside the window is not counted. The
// window starts after the warm-up, when the runtime has made the threads
// it needs, and stop reports whether the thread count grew.
type fsyncCounter struct {
	cmd      *exec.Cmd
	out      bytes.Buffer
	threads0 int64
}

// startFsyncCount starts perf, or returns nil when it cannot run (not
// installed, or not permitted).
func startFsyncCount() *fsyncCounter {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil
	}
	c := &fsyncCounter{}
	c.cmd = exec.Command("perf", "stat", "-x", ",",
		"-e", "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
		"-p", strconv.Itoa(os.Getpid()))
	c.cmd.Stderr = &c.out
	c.cmd.Stdout = &c.out
	if err := c.cmd.Start(); err != nil {
		return nil
	}
	// perf needs a moment to open its counters (and the process may
	// start a thread to wait for it).
	time.Sleep(200 * time.Millisecond)
	c.threads0 = procKB("/proc/self/status", "Threads:")
	return c
}

// stop ends the count and returns the syscalls seen, or -1 when perf
// failed. grew is true when the process gained threads meanwhile (the
// count may then be low).
func (c *fsyncCounter) stop() (n int64, grew bool) {
	if c == nil {
		return -1, false
	}
	grew = procKB("/proc/self/status", "Threads:") > c.threads0
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	n = -1
	for _, line := range strings.Split(c.out.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || !strings.HasPrefix(f[2], "syscalls:sys_enter_") {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue // "<not counted>" or "<not supported>"
		}
		n = max(n, 0) + v
	}
	return n, grew
}
