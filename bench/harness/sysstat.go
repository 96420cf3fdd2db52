package harness

import (
	"bufio"
	"os"
	"runtime/metrics"
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

// rssBytes returns the process's resident set size (VmRSS), or 0 where
// /proc is unavailable.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return 0
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// usage is a point-in-time reading of the process's clocks and of the
// heap objects it has allocated so far.
type usage struct {
	wall   time.Time
	cpu    time.Duration
	allocs uint64
}

// heapAllocs returns the heap objects the process has allocated so far
// (runtime/metrics; cumulative, unlike the live heap).
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func readUsage() usage {
	return usage{wall: time.Now(), cpu: cpuTime(), allocs: heapAllocs()}
}

// since returns the wall seconds and the CPU cores used from u to now.
func (u usage) since(end usage) (seconds, cores float64) {
	seconds = end.wall.Sub(u.wall).Seconds()
	if seconds > 0 {
		cores = (end.cpu - u.cpu).Seconds() / seconds
	}
	return seconds, cores
}

// loadAvg returns the one-minute load average, or 0 where /proc is
// unavailable.
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

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100
// on Linux).
const clockTicks = 100

// procUsage returns process pid's user+system CPU time and resident set,
// or zeros where /proc cannot tell.
func procUsage(pid int) (time.Duration, int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces: count fields after its
	// closing parenthesis, where field 3 is the first.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	cpu := time.Duration(ut+st) * time.Second / clockTicks
	return cpu, rssPages * int64(os.Getpagesize())
}
