package plan

// counts reports whether a move end on node n counts against
// MaxMovesPerNode: a lost node does no work in a move, so moves off it are
// limited by their targets and by MaxMoves alone.
func (p *planner) counts(n int) bool { return n >= 0 && !p.nodes[n].lost }

// canMove reports whether a move between from and to (either may be -1)
// fits within the move limits.
func (p *planner) canMove(from, to int) bool {
	if p.moves >= p.cfg.MaxMoves {
		return false
	}
	for _, n := range [2]int{from, to} {
		if p.counts(n) && p.movesPerNode[n] >= p.cfg.MaxMovesPerNode {
			return false
		}
	}
	return true
}

// charge counts a move between from and to against the limits.
func (p *planner) charge(from, to int) {
	p.moves++
	for _, n := range [2]int{from, to} {
		if p.counts(n) {
			p.movesPerNode[n]++
		}
	}
}
