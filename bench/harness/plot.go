package harness

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// A plot is one SVG line chart of some results.
type plot struct {
	file, title    string
	xLabel, yLabel string
	logX, logY     bool
	// xTick formats an x tick label; nil prints the number.
	xTick  func(x float64) string
	series []series
}

type series struct {
	name string
	pts  []point
}

type point struct{ x, y float64 }

// buildPlots returns the plots the results give: throughput against
// shard count and against client count for each sweep that varies them,
// and the latency distribution of each workload.
func buildPlots(results []Result) []plot {
	var out []plot
	kv := func(r Result) bool { return r.Clients > 0 && r.OpsPerSec > 0 && r.Workload != "recovery" }
	shards := plot{file: "throughput-shards.svg", title: "Throughput against shard count",
		xLabel: "shards", yLabel: "ops/s", logX: true, logY: true}
	shards.series = group(results, func(r Result) (string, bool) {
		return fmt.Sprintf("%s c=%d %dB", r.Workload, r.Clients, r.Size), kv(r) && r.Groups > 0 && r.Workload != "wal"
	}, func(r Result) point { return point{float64(r.Groups), r.OpsPerSec} })
	clients := plot{file: "throughput-clients.svg", title: "Throughput against client count",
		xLabel: "clients", yLabel: "ops/s", logX: true, logY: true}
	clients.series = group(results, func(r Result) (string, bool) {
		if r.Groups == 0 || r.Workload == "wal" {
			return fmt.Sprintf("%s %dB", r.Workload, r.Size), kv(r)
		}
		return fmt.Sprintf("%s g=%d %dB", r.Workload, r.Groups, r.Size), kv(r)
	}, func(r Result) point { return point{float64(r.Clients), r.OpsPerSec} })
	for _, p := range []plot{shards, clients} {
		if slices.ContainsFunc(p.series, func(s series) bool { return len(s.pts) > 1 }) {
			out = append(out, p)
		}
	}
	return append(out, latencyPlots(results)...)
}

// latencyAll draws every result's latency distribution in one plot,
// when more than one workload has one.
func latencyAll(results []Result) (plot, bool) {
	p := plot{file: "latency.svg", title: "Latency distributions", xLabel: "percentile", yLabel: "latency µs",
		logX: true, logY: true, xTick: percentileTick}
	workloads := map[string]bool{}
	for _, r := range results {
		if s, ok := latencySeries(r, fmt.Sprintf("%s g=%d c=%d %dB", r.Workload, r.Groups, r.Clients, r.Size)); ok {
			p.series = append(p.series, s)
			workloads[r.Workload] = true
		}
	}
	return p, len(workloads) > 1
}

func latencySeries(r Result, name string) (series, bool) {
	s := series{name: name}
	for j, q := range latencyQuantiles() {
		if j < len(r.LatencyUs) && r.LatencyUs[j] > 0 {
			s.pts = append(s.pts, point{1 / (1 - q), r.LatencyUs[j]})
		}
	}
	return s, len(s.pts) > 0
}

// percentileTick labels an x of 1/(1-q) as the percentile q.
func percentileTick(x float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", 100*(1-1/x)), "0"), ".") + "%"
}

// group puts each result that key accepts into the series named by key,
// in the order of first appearance, each series sorted by x.
func group(results []Result, key func(Result) (string, bool), pt func(Result) point) []series {
	var out []series
	for _, r := range results {
		name, ok := key(r)
		if !ok {
			continue
		}
		i := slices.IndexFunc(out, func(s series) bool { return s.name == name })
		if i < 0 {
			out = append(out, series{name: name})
			i = len(out) - 1
		}
		out[i].pts = append(out[i].pts, pt(r))
	}
	for i := range out {
		slices.SortFunc(out[i].pts, func(a, b point) int { return cmp.Compare(a.x, b.x) })
	}
	return out
}

// latencyPlots draws, for each workload, the latency at each quantile of
// every result of that workload (a percentile plot: the x axis stretches
// the tail, 1/(1-q) on a log scale).
func latencyPlots(results []Result) []plot {
	var out []plot
	for _, r := range results {
		if len(r.LatencyUs) == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(p plot) bool { return p.file == "latency-"+r.Workload+".svg" })
		if i < 0 {
			out = append(out, plot{file: "latency-" + r.Workload + ".svg",
				title:  "Latency distribution: " + r.Workload,
				xLabel: "percentile", yLabel: "latency µs", logX: true, logY: true, xTick: percentileTick})
			i = len(out) - 1
		}
		if s, ok := latencySeries(r, fmt.Sprintf("g=%d c=%d %dB", r.Groups, r.Clients, r.Size)); ok {
			out[i].series = append(out[i].series, s)
		}
	}
	if p, ok := latencyAll(results); ok {
		out = append(out, p)
	}
	return out
}

// Layout of every plot, in SVG user units.
const (
	plotW, plotH                       = 780, 440
	marginL, marginR, marginT, marginB = 80, 270, 40, 50
)

// palette is the series colours, reused in turn.
func palette() []string {
	return []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
}

// axis maps data values to pixels along one axis.
type axis struct {
	lo, hi   float64 // data range, in log10 when log
	log      bool
	p0, p1   float64 // pixel range
	ticks    []float64
	tickText func(float64) string
}

func newAxis(vals []float64, log bool, p0, p1 float64, tickText func(float64) string) axis {
	a := axis{log: log, p0: p0, p1: p1, tickText: tickText}
	lo, hi := slices.Min(vals), slices.Max(vals)
	if log {
		lo, hi = math.Floor(math.Log10(lo)+1e-9), math.Ceil(math.Log10(hi)-1e-9)
		if hi == lo {
			hi++
		}
		for e := lo; e <= hi; e++ {
			for _, m := range []float64{1, 2, 5} {
				if v := m * math.Pow(10, e); math.Log10(v) <= hi+1e-9 && (m == 1 || hi-lo <= 3) {
					a.ticks = append(a.ticks, v)
				}
			}
		}
	} else {
		lo = min(lo, 0)
		step := niceStep((hi - lo) / 5)
		hi = math.Ceil(hi/step) * step
		if hi == lo {
			hi = lo + 1
		}
		for v := lo; v <= hi+step/2; v += step {
			a.ticks = append(a.ticks, v)
		}
	}
	a.lo, a.hi = lo, hi
	if a.tickText == nil {
		a.tickText = shortNumber
	}
	return a
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= raw {
			return m * e
		}
	}
	return 10 * e
}

func (a axis) pos(v float64) float64 {
	if a.log {
		v = math.Log10(v)
	}
	return a.p0 + (v-a.lo)/(a.hi-a.lo)*(a.p1-a.p0)
}

// shortNumber prints 1200 as 1.2k and 3000000 as 3M.
func shortNumber(v float64) string {
	switch av := math.Abs(v); {
	case av >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case av >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
}

// svg renders the plot.
func (p plot) svg() string {
	var xs, ys []float64
	for _, s := range p.series {
		for _, pt := range s.pts {
			xs = append(xs, pt.x)
			ys = append(ys, pt.y)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(p.title))
	if len(xs) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	x := newAxis(xs, p.logX, marginL, plotW-marginR, p.xTick)
	y := newAxis(ys, p.logY, plotH-marginB, marginT, nil)
	// Grid, ticks and labels.
	for _, t := range x.ticks {
		px := x.pos(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, marginT, px, plotH-marginB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px, plotH-marginB+16, html.EscapeString(x.tickText(t)))
	}
	for _, t := range y.ticks {
		py := y.pos(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, py, plotW-marginR, py)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL-6, py+4, html.EscapeString(y.tickText(t)))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n",
		marginL, marginT, plotW-marginL-marginR, plotH-marginT-marginB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s%s</text>`+"\n", (marginL+plotW-marginR)/2, plotH-12,
		html.EscapeString(p.xLabel), logNote(p.logX))
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">%s%s</text>`+"\n",
		(marginT+plotH-marginB)/2, html.EscapeString(p.yLabel), logNote(p.logY))
	// Series and legend.
	colors := palette()
	for i, s := range p.series {
		col := colors[i%len(colors)]
		var path []string
		for _, pt := range s.pts {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x.pos(pt.x), y.pos(pt.y)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), col)
		for _, pt := range s.pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x.pos(pt.x), y.pos(pt.y), col)
		}
		ly := marginT + 8 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", plotW-marginR+12, ly, plotW-marginR+32, ly, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", plotW-marginR+38, ly+4, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func logNote(log bool) string {
	if log {
		return " (log scale)"
	}
	return ""
}
