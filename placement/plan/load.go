package plan

import "slices"

// balanceLoad transfers leaderships so that the request rates the Live
// nodes serve as leaders come within max(Tolerance*mean, MinLoadGap) of
// their mean (no rounding: rates are not counts). A transfer of a shard with rate r from a node
// serving a to one serving b < a is planned only when r < a-b, so it
// strictly lowers the sum of squared rates (the spread cannot oscillate),
// and only when it keeps both nodes' leader counts inside their band, so
// it never undoes leader balance. When leader counts block every single
// transfer, two nodes swap leaderships (a busier shard one way, a quieter
// one the other), which leaves the counts as they are. A shard hotter than
// any such gap is left where it is: splitting it is the remedy
// (SplitRequestsPerSec).
func (p *planner) balanceLoad() {
	if len(p.live) < 2 {
		return
	}
	total := 0.0
	for _, n := range p.live {
		total += p.rates[n]
	}
	if total <= 0 {
		return
	}
	mean := total / float64(len(p.live))
	lb := p.leaderBand()
	gap := max(mean*p.cfg.Tolerance, p.cfg.MinLoadGap)
	lo, hi := mean-gap, mean+gap
	// minGain keeps float rounding from passing for progress.
	minGain := 1e-9 * mean * mean
	src := slices.Clone(p.live)
	for p.transfers < p.cfg.MaxLeaderTransfers {
		slices.SortFunc(src, func(x, y int) int {
			switch {
			case p.rates[x] > p.rates[y]:
				return -1
			case p.rates[x] < p.rates[y]:
				return 1
			}
			return x - y
		})
		if !p.shiftOneLoad(src, lo, hi, minGain, lb) && !p.swapLoad(src, lo, hi, minGain) {
			return
		}
	}
}

// shiftOneLoad plans the transfer, from the first source that has one,
// that lowers the sum of squared rates the most.
func (p *planner) shiftOneLoad(src []int, lo, hi, minGain float64, lb band) bool {
	for _, s := range src {
		best, to, bestGain := -1, -1, minGain
		for _, i := range p.leaderOf[s] {
			sh := &p.shards[i]
			if !sh.free() || sh.rate <= 0 || p.leaders[s]-1 < lb.lo {
				continue
			}
			for _, v := range sh.voters {
				if v == s || !p.nodes[v].live || p.leaders[v]+1 > lb.hi {
					continue
				}
				d := p.rates[s] - p.rates[v]
				if !(p.rates[s] > hi || p.rates[v] < lo) {
					continue
				}
				if g := sh.rate * (d - sh.rate); g > bestGain {
					best, to, bestGain = i, v, g
				}
			}
		}
		if best >= 0 {
			p.emit(TransferLeader, &p.shards[best], s, to, "leader's request rate outside the band")
			return true
		}
	}
	return false
}

// swapLoad plans two transfers between a source s and a node t serving
// less: a shard s leads (rate ra) goes to t and one t leads (rate rb < ra)
// comes to s, both nodes being voters of both shards. It picks, for the
// first source that has one, the swap that lowers the sum of squared rates
// the most: ra-rb closest to half the gap.
func (p *planner) swapLoad(src []int, lo, hi, minGain float64) bool {
	if p.transfers+2 > p.cfg.MaxLeaderTransfers {
		return false
	}
	for _, s := range src {
		bestA, bestB, to, bestGain := -1, -1, -1, minGain
		for _, t := range src {
			d := p.rates[s] - p.rates[t]
			if t == s || d <= 0 || !(p.rates[s] > hi || p.rates[t] < lo) {
				continue
			}
			a, b, g := p.bestSwap(s, t, d)
			if g > bestGain {
				bestA, bestB, to, bestGain = a, b, t, g
			}
		}
		if bestA >= 0 {
			p.emit(TransferLeader, &p.shards[bestA], s, to, "leader's request rate outside the band (swap)")
			p.emit(TransferLeader, &p.shards[bestB], to, s, "leader's request rate outside the band (swap)")
			return true
		}
	}
	return false
}

// bestSwap returns the shards a (led by s) and b (led by t) whose swap
// lowers the squared rates the most for a gap d between s and t, and the
// gain; -1s and 0 when there is none.
func (p *planner) bestSwap(s, t int, d float64) (a, b int, gain float64) {
	as, bs := p.swappable(s, t), p.swappable(t, s)
	slices.SortFunc(bs, func(x, y int) int {
		if c := cmpRate(p.shards[x].rate, p.shards[y].rate); c != 0 {
			return c
		}
		return x - y
	})
	a, b = -1, -1
	for _, i := range as {
		ra := p.shards[i].rate
		// The best rb is ra - d/2; look at the two rates around it.
		byRate := func(j int, r float64) int { return cmpRate(p.shards[j].rate, r) }
		k, _ := slices.BinarySearchFunc(bs, ra-d/2, byRate)
		for _, j := range [2]int{k - 1, k} {
			if j < 0 || j >= len(bs) {
				continue
			}
			// Among shards of equal rate, the lowest ID.
			j, _ = slices.BinarySearchFunc(bs, p.shards[bs[j]].rate, byRate)
			delta := ra - p.shards[bs[j]].rate
			if g := delta * (d - delta); delta > 0 && delta < d && g > gain {
				a, b, gain = i, bs[j], g
			}
		}
	}
	return a, b, gain
}

// swappable returns the free shards s leads that have t as a voter.
func (p *planner) swappable(s, t int) []int {
	var out []int
	for _, i := range p.leaderOf[s] {
		if sh := &p.shards[i]; sh.free() && slices.Contains(sh.voters, t) {
			out = append(out, i)
		}
	}
	return out
}

func cmpRate(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
