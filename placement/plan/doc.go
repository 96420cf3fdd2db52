// Package plan is the placement planner: a pure function from a snapshot of
// the cluster (nodes, shards, moves in flight) and a Config to the list of
// actions that move the cluster towards its placement goals. The placement
// driver, which runs where the meta shard's leader is, calls Plan every few
// seconds and carries the actions out through Raft; this package only
// decides.
//
// # Contract
//
// Plan starts no goroutines, reads no clock, does no I/O and keeps no state
// between calls, so it is safe for concurrent use and never needs a lock.
// It never modifies its input. The same input, in any order, gives the same
// actions in the same order; every tie is broken by the lower ID. Bad input never panics: duplicate
// nodes or shards (the first wins), node ID 0, duplicate or overlapping
// voters and learners, a leader that is not a voter (treated as unknown),
// negative, NaN or infinite request rates (treated as 0). A node a shard
// names but Cluster.Nodes does not is treated as lost, like a
// decommissioned one. A Config that fails Validate makes Plan plan nothing.
//
// Output is bounded: at most Config.MaxMoves membership changes in flight
// (counting Cluster.InFlight), Config.MaxLeaderTransfers transfers and
// Config.MaxSplits splits per call, and at most one action per shard. A
// shard with a move in flight gets nothing. The driver should execute a
// MoveReplica whose source leads the shard by transferring the leadership
// first; Split carries no key, the driver picks the shard's median key.
//
// # Words
//
//   - Live: may receive replicas and leaderships. Only Live nodes do.
//   - up: Live or Draining; a voter on an up node is an up voter.
//   - lost: Decommissioned, Suspect or Dead for at least DeadTimeout, or
//     unknown. A lost node's voters are replaced.
//   - target: Config.Replicas voters per shard, Config.MetaReplicas for the
//     meta shard; never more than the number of Live nodes are placed.
//   - replica count of a node: the voters and learners it holds, counted as
//     if every move in flight had finished.
//
// # Rules, in priority order
//
// Earlier rules use the move limits first; later rules see the counts as if
// earlier actions had finished.
//
//  1. Repair (meta shard first, then shards with the fewest up voters
//     against their target): remove a learner no move in flight is using;
//     replace a voter on a lost node with one on the best Live node, or,
//     when no Live node could take it, remove it if the shard keeps
//     min(target, Live nodes) up voters and a quorum; add a voter to a
//     shard below its target; remove a voter from a shard above it (a
//     non-up voter first, then a Draining one, then a non-leader on the
//     fullest node).
//  2. Drain: a shard led from a Draining node gets its leadership
//     transferred to a Live voter; otherwise its voter on the Draining node
//     moves to the best Live node, or, when no Live node could take it, is
//     removed if the shard keeps min(target, Live nodes) up voters and a
//     quorum.
//  3. Split: a shard (never the meta shard, nor one without a quorum)
//     whose size reaches SplitSizeBytes or whose request rate reaches
//     SplitRequestsPerSec, furthest past its threshold first.
//  4. Replica balance: move a voter from the fullest Live node to the
//     emptiest that the band rule below allows and the limits let in,
//     choosing a healthy shard (as many voters as it can have, all Live, no
//     learners) that the source does not lead, then the smallest, then the
//     lowest ID. Shards that are being repaired or drained wait.
//  5. Leader balance: transfer a leadership the same way, from the Live
//     node leading the most shards to the Live voter of one of them that
//     leads the fewest.
//  6. Load balance (Config.BalanceLoad): a node's load is the sum of the
//     request rates of the shards it leads. While a Live node's load is
//     further than max(Tolerance*mean, MinLoadGap) from the mean (no
//     rounding: rates are not counts), transfer a leadership of rate r from a node with load a to
//     a voter with load b only when r < a-b, so that the sum of squared
//     loads strictly falls and nothing oscillates, and only when both
//     leader counts stay in their band, so that load balance never undoes
//     leader balance. When the leader band blocks every single transfer,
//     two nodes swap a busier and a quieter leadership. A shard hotter than
//     every gap stays; splitting is its remedy.
//
// The best Live node for a new replica holds no replica of the shard, fits
// within the move limits, and has the fewest replicas, then the most
// Capacity, then the lowest ID.
//
// # Safety
//
// No action leaves a shard with fewer up voters than min(its up voters
// now, its target, the Live nodes), or without a quorum of up voters if it
// had one: replacements and drains are one joint change that adds before it
// removes, and removals take either voters that are not up or an up voter
// from a shard with more up voters than it can have, and only while the
// rest keep a majority up. A shard without a quorum of up voters is left
// alone, since no change could commit.
//
// Drain transfers go to the Live voter with the fewest leaderships.
//
// # Move limits
//
// AddReplica, MoveReplica and RemoveReplica are moves; TransferLeader and
// Split are not. A move counts once against MaxMoves and once against
// MaxMovesPerNode for each end on a node that is not lost: a lost node does
// no work in a move, so re-replicating a dead node's data is limited by the
// nodes that receive it, not by the dead one.
//
// # The band
//
// For replica and leader counts, with n Live nodes holding total items,
// mean = total/n and tolerance tol, a node may hold any count in
//
//	lo = floor(mean*(1-tol)) .. hi = ceil(mean*(1+tol))
//
// (computed with a 1e-9 allowance so that 10*1.1 is 11, and widened if need
// be to hold floor(mean) and ceil(mean)). With 1,024 shards of 3 replicas
// on 4 nodes, mean 768 and the band is 691..845; with 9 replicas on 4 nodes,
// mean 2.25 and the band is 2..3. An item moves from a node holding a to a
// node holding b only when a-b >= 2, a > hi or b < lo, and after the move
// b+1 <= hi and a-1 >= lo. Each move lowers the total distance of nodes
// outside the band, so balancing stops; and while some node is outside the
// band there is a pair of nodes allowing a move (the fullest and the
// emptiest node differ by at least 2, and moving between them stays inside
// the band), so it stops only when every node is inside. For replicas the
// fullest node always holds a shard the emptiest does not; for leaders, a
// leadership can only go to a voter of its shard, so the leader band is
// reached as far as the placement allows (always, in practice, once
// replicas are balanced).
//
// # Tests
//
// Table tests state each rule in a small cluster notation; the scripts in
// testdata/scripts print each decision with its reason; the simulations
// apply Plan's actions to a model cluster step by step, through node
// joins, deaths, drains and slow moves, check every step's actions against
// the safety rules and limits, and require a fixed point within a bound
// where every goal above holds.
package plan
