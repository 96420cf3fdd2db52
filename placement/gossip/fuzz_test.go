package gossip

import (
	"testing"
)

// FuzzDecodeMeta feeds arbitrary bytes to the Meta decoder: it must never
// panic, and whatever it accepts must encode and decode back to the same
// Meta. Seed corpus: testdata/fuzz/FuzzDecodeMeta.
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []Meta{testMeta(1), {NodeID: 1 << 40, Draining: true, leaving: true}} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v from %x but cannot encode it: %v", m, b, err)
		}
		var m2 Meta
		if err := m2.UnmarshalBinary(again); err != nil || m2 != m {
			t.Fatalf("re-encoding %+v gave %x, which decodes to %+v, %v", m, again, m2, err)
		}
	})
}
