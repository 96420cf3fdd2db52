package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// shape identifies comparable results of the two systems.
type shape struct {
	workload              string
	groups, clients, size int
}

// printRatios reads JSON lines of both harnesses from files and prints,
// per shape, the median of each system's runs and Flotilla's figure
// against dragonboat's. Medians are taken per figure, over every run of
// that shape in the files.
func printRatios(w io.Writer, files []string) error {
	runs := map[shape]map[string][]Result{}
	var order []shape
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var r Result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
			k := shape{r.Workload, r.Groups, r.Clients, r.Size}
			if runs[k] == nil {
				runs[k] = map[string][]Result{}
				order = append(order, k)
			}
			runs[k][r.System] = append(runs[k][r.System], r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	med := func(rs []Result, f func(Result) float64) float64 {
		if len(rs) == 0 {
			return 0
		}
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	fmt.Fprintln(w, "Requests (median of the runs; ratio = Flotilla / dragonboat for ops/s, dragonboat / Flotilla for latency and CPU, so above 1x favours Flotilla):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | groups | clients | size B | runs F/D | Flotilla ops/s | dragonboat ops/s | ops/s ratio | p50 ms F / D | p99 ms F / D | p99 ratio | CPU µs/op F / D | CPU/op ratio | entries/fsync F / D |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, k := range order {
		if k.workload == "idle" {
			continue
		}
		F, D := runs[k]["flotilla"], runs[k]["dragonboat"]
		ops := func(r Result) float64 { return r.OpsPerSec }
		p50 := func(r Result) float64 { return r.P50us / 1000 }
		p99 := func(r Result) float64 { return r.P99us / 1000 }
		cpu := func(r Result) float64 { return r.CPUusPerOp }
		epf := func(r Result) float64 { return r.EntriesPerFsync }
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d/%d | %.0f | %.0f | %s | %.1f / %.1f | %.1f / %.1f | %s | %.0f / %.0f | %s | %.1f / %.1f |\n",
			k.workload, k.groups, k.clients, k.size, len(F), len(D),
			med(F, ops), med(D, ops), ratio(med(F, ops), med(D, ops)),
			med(F, p50), med(D, p50), med(F, p99), med(D, p99), ratio(med(D, p99), med(F, p99)),
			med(F, cpu), med(D, cpu), ratio(med(D, cpu), med(F, cpu)),
			med(F, epf), med(D, epf))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Idle (median of the runs; ratio = dragonboat / Flotilla, so above 1x favours Flotilla):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| groups | system | runs | replicas | CPU cores | CPU per replica ratio | RSS MB | RSS B/replica | RSS/replica ratio | note |")
	fmt.Fprintln(w, "|--:|---|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, k := range order {
		if k.workload != "idle" {
			continue
		}
		F := runs[k]["flotilla"]
		perRep := func(r Result) float64 {
			if r.Replicas == 0 {
				return 0
			}
			return r.CPUCores / float64(r.Replicas)
		}
		rssRep := func(r Result) float64 { return r.RSSPerReplicaBytes }
		for _, sys := range []string{"flotilla", "dragonboat"} {
			// dragonboat's idle runs differ in Config (with and without
			// Quiesce): one row each.
			byCfg := map[string][]Result{}
			var cfgs []string
			for _, r := range runs[k][sys] {
				if byCfg[r.Config] == nil {
					cfgs = append(cfgs, r.Config)
				}
				byCfg[r.Config] = append(byCfg[r.Config], r)
			}
			for _, cfg := range cfgs {
				R := byCfg[cfg]
				name, note := sys, ""
				if n := R[len(R)-1].Note; strings.HasPrefix(n, "could not start") {
					note = n
				}
				if strings.Contains(cfg, "Quiesce") {
					name += " (Quiesce)"
				}
				cr, rr := "", ""
				if sys != "flotilla" && note == "" {
					cr, rr = ratio(med(R, perRep), med(F, perRep)), ratio(med(R, rssRep), med(F, rssRep))
				}
				fmt.Fprintf(w, "| %d | %s | %d | %.0f | %.3f | %s | %.0f | %.0f | %s | %s |\n",
					k.groups, name, len(R), med(R, func(r Result) float64 { return float64(r.Replicas) }),
					med(R, func(r Result) float64 { return r.CPUCores }), cr,
					med(R, func(r Result) float64 { return r.RSSMB }), med(R, rssRep), rr, note)
			}
		}
	}
	return nil
}
