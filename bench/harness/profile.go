package harness

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
)

// profiler writes a CPU profile of each measured window and a heap
// profile at the end of each. With more than one scenario in the run, the
// result's label is put into each file name (cpu.pprof becomes
// cpu.write-1024g-256c-16b.pprof). A nil *profiler does nothing.
type profiler struct {
	cpuPath, memPath string
	multi            bool
	cpuFile          *os.File
}

func newProfiler(cpuPath, memPath string, multi bool) *profiler {
	if cpuPath == "" && memPath == "" {
		return nil
	}
	return &profiler{cpuPath: cpuPath, memPath: memPath, multi: multi}
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

func (p *profiler) start(label string) error {
	if p == nil || p.cpuPath == "" {
		return nil
	}
	f, err := create(p.path(p.cpuPath, label))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.cpuFile = f
	return nil
}

func (p *profiler) stop(label string) error {
	if p == nil {
		return nil
	}
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		err := p.cpuFile.Close()
		p.cpuFile = nil
		if err != nil {
			return err
		}
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
