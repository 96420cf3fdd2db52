package shard

import (
	"bytes"
	"fmt"
)

// EvenSplitKeys returns the n-1 keys that split the keys
// fmt.Sprintf(format, i), lo <= i < hi, into n ranges of equal width; pass
// them as Options.SplitKeys to pre-split a new cluster into n shards. The
// format must sort like its integer (zero-padded, for example "key%010d"),
// which is checked: keys that do not strictly increase are an error.
func EvenSplitKeys(format string, lo, hi uint64, n int) ([][]byte, error) {
	if n < 1 || hi <= lo || uint64(n) > hi-lo {
		return nil, fmt.Errorf("shard: cannot split [%d, %d) into %d ranges", lo, hi, n)
	}
	keys := make([][]byte, 0, n-1)
	width := hi - lo
	for i := 1; i < n; i++ {
		// i*width/n without overflowing: split the product.
		off := (width/uint64(n))*uint64(i) + (width%uint64(n))*uint64(i)/uint64(n)
		k := []byte(fmt.Sprintf(format, lo+off))
		if len(keys) > 0 && bytes.Compare(keys[len(keys)-1], k) >= 0 {
			return nil, fmt.Errorf("shard: format %q does not sort like its integer (%q >= %q)", format, keys[len(keys)-1], k)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
