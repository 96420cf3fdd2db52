package plan

import "slices"

// balanceLeaders transfers leaderships from the Live nodes with the most to
// Live voters with fewer until every Live node's leader count is in its
// band (see band.shouldMove), at most MaxLeaderTransfers per call. A
// leadership can only go to a voter of its shard, so the band is reached
// only as far as the placement allows.
func (p *planner) balanceLeaders() {
	if len(p.live) < 2 {
		return
	}
	b := p.leaderBand()
	src := slices.Clone(p.live)
	for p.transfers < p.cfg.MaxLeaderTransfers {
		slices.SortFunc(src, func(x, y int) int {
			if p.leaders[x] != p.leaders[y] {
				return p.leaders[y] - p.leaders[x]
			}
			return x - y
		})
		if !p.transferOneLeader(src, b) {
			return
		}
	}
}

func (p *planner) leaderBand() band {
	total := 0
	for _, n := range p.live {
		total += p.leaders[n]
	}
	return countBand(total, len(p.live), p.cfg.Tolerance)
}

// transferOneLeader plans one transfer from the first source that has a
// shard with a voter it may hand the leadership to, choosing the voter with
// the fewest leaderships (then the lowest shard ID, then the lowest node
// ID).
func (p *planner) transferOneLeader(src []int, b band) bool {
	for _, s := range src {
		best, to := -1, -1
		for _, i := range p.leaderOf[s] {
			sh := &p.shards[i]
			if !sh.free() {
				continue
			}
			for _, v := range sh.voters {
				if v == s || !p.nodes[v].live || !b.shouldMove(p.leaders[s], p.leaders[v]) {
					continue
				}
				if to < 0 || p.leaders[v] < p.leaders[to] {
					best, to = i, v
				}
			}
		}
		if best >= 0 {
			p.emit(TransferLeader, &p.shards[best], s, to, "leader count outside the band")
			return true
		}
	}
	return false
}
