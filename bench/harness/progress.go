package harness

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progress shows how far each step's measured work has gone: a bar
// redrawn in place on a terminal, a plain line every few seconds
// otherwise. A nil *progress shows nothing.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	mu    sync.Mutex // serializes drawing with printed results
	drawn bool       // a bar is on the current line
}

func newProgress(w io.Writer, tty bool) *progress {
	p := &progress{w: w, tty: tty, every: 5 * time.Second}
	if tty {
		p.every = 200 * time.Millisecond
	}
	return p
}

// phase shows label's progress over d (from now) until the returned stop
// is called; ops, if not nil, reports the operations done so far.
func (p *progress) phase(label string, d time.Duration, ops func() int64) (stop func()) {
	if p == nil {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var n int64
				if ops != nil {
					n = ops()
				}
				p.draw(label, time.Since(start), d, n)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		p.clear()
	}
}

func (p *progress) draw(label string, el, d time.Duration, ops int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d > 0 {
		el = min(el, d)
	}
	frac := 0.0
	if d > 0 {
		frac = float64(el) / float64(d)
	}
	rate := ""
	if ops > 0 && el > 0 {
		rate = fmt.Sprintf(" %d ops (%.0f/s)", ops, float64(ops)/el.Seconds())
	}
	if d <= 0 { // open-ended: no bar
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[K%s %v%s", label, el.Round(100*time.Millisecond), rate)
			p.drawn = true
		} else {
			fmt.Fprintf(p.w, "bench: %s: %v%s\n", label, el.Round(time.Second), rate)
		}
		return
	}
	if !p.tty {
		fmt.Fprintf(p.w, "bench: %s: %v/%v%s\n", label, el.Round(time.Second), d.Round(time.Second), rate)
		return
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %3.0f%% %v/%v%s", label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		100*frac, el.Round(100*time.Millisecond), d.Round(time.Second), rate)
	p.drawn = true
}

// clear erases the bar, so the next line prints clean.
func (p *progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
