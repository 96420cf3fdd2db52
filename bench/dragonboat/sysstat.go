package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procKB returns the value (in kB) of the line starting with key in a
// /proc file such as /proc/self/status or /proc/meminfo, or 0.
func procKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return 0
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		return kb
	}
	return 0
}

// rssBytes returns the process's resident set size (VmRSS).
func rssBytes() int64 { return procKB("/proc/self/status", "VmRSS:") << 10 }

// memAvailable returns the machine's available memory (MemAvailable).
func memAvailable() int64 { return procKB("/proc/meminfo", "MemAvailable:") << 10 }

// settledRSS collects garbage and returns freed memory to the OS before
// reading the resident set, so that what remains is live memory.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}

// usage is a point-in-time reading of the process's clocks.
type usage struct {
	wall time.Time
	cpu  time.Duration
}

func readUsage() usage { return usage{wall: time.Now(), cpu: cpuTime()} }

// since returns the wall seconds and the CPU cores used from u to end.
func (u usage) since(end usage) (seconds, cores float64) {
	seconds = end.wall.Sub(u.wall).Seconds()
	if seconds > 0 {
		cores = (end.cpu - u.cpu).Seconds() / seconds
	}
	return seconds, cores
}

// loadAvg returns the one-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fields[0], 64)
	return v
}

// settleDisk flushes the file system between steps, as the main harness
// does, so that one step's deleted files do not stall the next one's
// fsyncs.
func settleDisk() { syscall.Sync() }
