// Package lint holds tests that enforce project rules review would miss:
// the Raft core imports only an allow-list of standard packages, and no
// library package keeps mutable package-level state or uses raw
// sync/atomic functions where typed atomics belong.
//
// It has no non-test code and imports nothing of Flotilla's.
package lint
