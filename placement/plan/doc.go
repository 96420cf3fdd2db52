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
// between calls. The same input gives the same actions in the same order;
// every tie is broken by the lower ID. Bad input never panics: duplicate
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
//  3. Split: a shard (never the meta shard) whose size reaches
//     SplitSizeBytes or whose request rate reaches SplitRequestsPerSec,
//     furthest past its threshold first.
//  4. Replica balance: move a voter from a Live node with more replicas to
//     one with fewer, as the band rule below allows, choosing a healthy
//     shard (as many voters as it can have, all Live) that the source does
//     not lead, then the smallest.
//  5. Leader balance: transfer a leadership the same way between Live
//     voters of the shard.
//  6. Load balance (Config.BalanceLoad): transfer leaderships so that the
//     request rates Live nodes serve as leaders come within Tolerance of
//     their mean, without pushing any leader count out of its band.
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
package plan
