package plan

import "math"

// band is the range of counts [lo, hi] a node may hold without the planner
// moving anything to or from it.
//
// Invariant: lo <= floor(mean) and hi >= ceil(mean), so a perfectly even
// spread is always inside the band.
type band struct{ lo, hi int }

// countBand returns the band for total items spread over nodes nodes with
// tolerance tol: hi = ceil(mean*(1+tol)), lo = floor(mean*(1-tol)). The
// products are taken with a 1e-9 allowance, so that 10*1.1 counts as 11
// rather than 11.000000000000002, and clamped so that the band always holds
// floor(mean) and ceil(mean).
func countBand(total, nodes int, tol float64) band {
	if nodes <= 0 {
		return band{}
	}
	mean := float64(total) / float64(nodes)
	b := band{
		lo: int(math.Floor(mean*(1-tol) + 1e-9)),
		hi: int(math.Ceil(mean*(1+tol) - 1e-9)),
	}
	b.lo = min(b.lo, total/nodes)
	b.hi = max(b.hi, (total+nodes-1)/nodes)
	return b
}

// out reports whether count c is outside the band.
func (b band) out(c int) bool { return c < b.lo || c > b.hi }

// shouldMove reports whether one item should move from a node holding src
// to a node holding dst: one of them is outside the band, the move narrows
// the gap between them (src-dst >= 2) and pushes neither outside the band.
// Each such move lowers the total distance outside the band, so repeated
// moves stop, and they stop only when every node is inside the band (a
// node outside it always has a partner that allows a move; see the package
// doc).
func (b band) shouldMove(src, dst int) bool {
	return src-dst >= 2 && (src > b.hi || dst < b.lo) && dst+1 <= b.hi && src-1 >= b.lo
}
