// Package placement makes a set of shard stores one cluster: gossip
// membership (placement/gossip), the meta shard that records every shard's
// descriptor and the moves in flight, the cache of it every node routes
// with, and the placement driver that repairs, drains, splits and
// balances (its decisions come from the pure planner, placement/plan).
// docs/architecture.md ("Membership and placement") describes it whole.
//
// Invariants:
//
//   - The replicas are the truth about a shard (range, epoch,
//     membership); the meta shard converges to what they report, and a
//     stale route costs a retry, never a wrong answer.
//   - A move is recorded in the meta shard for its whole life, and a run
//     of it acts only while that record is still its own (movelock.go):
//     a stale twin run can never undo a newer move.
//   - A move never leaves a shard with fewer voters than before: the
//     target joins as a learner, catches up, and one joint conf change
//     promotes it and removes the source.
//   - The driver acts only where the meta shard's leader is, at most one
//     action per shard at a time; every step is decided from the
//     membership the shard's leader reports, so any crash is resumed from
//     where it stopped.
package placement
