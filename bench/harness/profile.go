package harness

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
)

// profiler writes a CPU profile and an execution trace of each measured
// window and a heap profile at the end of each. With more than one
// scenario in the run, the result's label is put into each file name
// (cpu.pprof becomes cpu.write-1024g-256c-16b.pprof). A nil *profiler
// does nothing.
//
// The trace is what shows a latency-bound pipeline (goroutines parked on
// an fsync, a worker waiting for a wake-up) that a CPU profile cannot:
// read it with `go tool trace`, or its blocking and scheduler-latency
// profiles (`go tool trace -pprof=sync FILE`).
type profiler struct {
	cpuPath, memPath, tracePath string
	multi                       bool
	cpuFile, traceFile          *os.File
}

func newProfiler(cpuPath, memPath, tracePath string, multi bool) *profiler {
	if cpuPath == "" && memPath == "" && tracePath == "" {
		return nil
	}
	return &profiler{cpuPath: cpuPath, memPath: memPath, tracePath: tracePath, multi: multi}
}

func (p *profiler) path(base, label string) string {
	if !p.multi {
		return base
	}
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext) + "." + label + ext
}

// create creates the profile file, and its directory if need be.
func create(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}

func (p *profiler) start(label string) (err error) {
	if p == nil {
		return nil
	}
	if p.traceFile, err = startFile(p.tracePath, p.path(p.tracePath, label), trace.Start); err != nil {
		return err
	}
	p.cpuFile, err = startFile(p.cpuPath, p.path(p.cpuPath, label), pprof.StartCPUProfile)
	return err
}

// startFile creates path and starts writing a profile or trace into it
// with begin; it does nothing (nil, nil) if the base path is not set.
func startFile(base, path string, begin func(io.Writer) error) (*os.File, error) {
	if base == "" {
		return nil, nil
	}
	f, err := create(path)
	if err != nil {
		return nil, err
	}
	if err := begin(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (p *profiler) stop(label string) error {
	if p == nil {
		return nil
	}
	if err := stopFile(&p.traceFile, trace.Stop); err != nil {
		return err
	}
	if err := stopFile(&p.cpuFile, pprof.StopCPUProfile); err != nil {
		return err
	}
	if p.memPath == "" {
		return nil
	}
	f, err := create(p.path(p.memPath, label))
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stopFile ends what startFile began in *f, if anything, and closes it.
func stopFile(f **os.File, end func()) error {
	if *f == nil {
		return nil
	}
	end()
	err := (*f).Close()
	*f = nil
	return err
}
