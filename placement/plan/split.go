package plan

import "slices"

// split plans splits of the shards whose size or request rate has reached
// its threshold, the furthest past its threshold first (then by ID), at
// most MaxSplits per call. The meta shard is never split, nor a shard
// without a quorum of up voters (the split could not commit). The planner
// cannot see keys: the driver picks the split key.
func (p *planner) split() {
	if p.cfg.SplitSizeBytes == 0 && p.cfg.SplitRequestsPerSec == 0 {
		return
	}
	type candidate struct {
		i      int
		over   float64 // how far past its threshold, as a multiple of it
		reason string
	}
	var cs []candidate
	for i := range p.shards {
		s := &p.shards[i]
		if !s.free() || s.meta || !s.hasQuorum() {
			continue
		}
		c := candidate{i: i}
		if t := p.cfg.SplitSizeBytes; t > 0 && s.size >= t {
			c.over, c.reason = float64(s.size)/float64(t), "size reached SplitSizeBytes"
		}
		if t := p.cfg.SplitRequestsPerSec; t > 0 && s.rate >= t && s.rate/t > c.over {
			c.over, c.reason = s.rate/t, "request rate reached SplitRequestsPerSec"
		}
		if c.reason != "" {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.over != b.over {
			if a.over > b.over {
				return -1
			}
			return 1
		}
		return a.i - b.i
	})
	for _, c := range cs {
		if p.splits >= p.cfg.MaxSplits {
			return
		}
		p.emit(Split, &p.shards[c.i], -1, -1, c.reason)
	}
}
