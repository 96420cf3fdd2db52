package plan

import "slices"

// balanceLoad transfers leaderships so that the request rates the Live
// nodes serve as leaders come within Tolerance of their mean (no rounding:
// rates are not counts). A transfer of a shard with rate r from a node
// serving a to one serving b < a is planned only when r < a-b, so it
// strictly lowers the sum of squared rates (the spread cannot oscillate),
// and only when it keeps both nodes' leader counts inside their band, so
// it never undoes leader balance. A shard hotter than any such gap is left
// where it is: splitting it is the remedy (SplitRequestsPerSec).
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
	lo, hi := mean*(1-p.cfg.Tolerance), mean*(1+p.cfg.Tolerance)
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
		if !p.shiftOneLoad(src, lo, hi, minGain, lb) {
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
