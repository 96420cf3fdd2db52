// Package lincheck is what the in-process linearizability tests of shard
// and placement share: the per-key register model their histories are
// checked against with porcupine (github.com/anishathalye/porcupine), and
// the recorder that collects a concurrent history.
//
// The model: one register per key (every operation names one key, so a
// history is partitioned by key). A register holds a string, "" meaning
// absent. Register keys take gets, puts and compare-and-swaps, and every
// value a test writes is unique, so a read names the write it saw; counter
// keys take gets and increments (a decimal integer, absent reads as 0).
//
// An operation of unknown outcome (a write that timed out, or whose node
// closed or lost the shard) is recorded as returning at the end of the
// test, and the model lets it take effect or not: if it did not, it can
// be placed last, where nobody sees it.
//
// The chaos package has its own model: it checks the Redis commands (SET
// with NX, XX and GET, DEL, INCR) that real clients send to real
// processes, a different operation set.
package lincheck
