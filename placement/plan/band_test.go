package plan

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCountBand(t *testing.T) {
	for _, tc := range []struct {
		total, nodes int
		tol          float64
		want         band
	}{
		{3072, 4, 0.1, band{691, 845}}, // 1,024 shards x 3 on 4 nodes
		{30, 3, 0.1, band{9, 11}},      // 10*1.1 must be 11, not 12
		{9, 4, 0.1, band{2, 3}},        // mean 2.25
		{4, 2, 0.1, band{1, 3}},        // mean 2: 1.8 and 2.2 round outwards
		{0, 3, 0.1, band{0, 0}},
		{1, 3, 0.1, band{0, 1}},
		{100, 1, 0.1, band{90, 110}},
		{20, 2, 0.05, band{9, 11}},
		{7, 0, 0.1, band{}},
	} {
		if got := countBand(tc.total, tc.nodes, tc.tol); got != tc.want {
			t.Errorf("countBand(%d, %d, %g) = %+v, want %+v", tc.total, tc.nodes, tc.tol, got, tc.want)
		}
	}
}

// TestBandConverges checks the claim the package doc makes about the band:
// while some node is outside it, the fullest and the emptiest nodes allow a
// move, and moving by shouldMove always ends with every node inside it.
func TestBandConverges(t *testing.T) {
	seed := uint64(1)
	if *flagSeed != 0 {
		seed = *flagSeed
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 2000; round++ {
		nodes := 1 + rng.IntN(12)
		counts := make([]int, nodes)
		for i := range counts {
			counts[i] = rng.IntN(1 + rng.IntN(200))
		}
		total := 0
		for _, c := range counts {
			total += c
		}
		tol := rng.Float64() * 0.5
		b := countBand(total, nodes, tol)
		start := slices.Clone(counts)
		for step := 0; ; step++ {
			if step > total*nodes+1 {
				t.Fatalf("seed %d round %d: no end after %d steps from %v, band %+v", seed, round, step, start, b)
			}
			hi := slices.Index(counts, slices.Max(counts))
			lo := slices.Index(counts, slices.Min(counts))
			out := slices.ContainsFunc(counts, b.out)
			if !out {
				break
			}
			if !b.shouldMove(counts[hi], counts[lo]) {
				t.Fatalf("seed %d round %d: counts %v (from %v) outside band %+v but no move from fullest to emptiest",
					seed, round, counts, start, b)
			}
			counts[hi]--
			counts[lo]++
		}
	}
}
