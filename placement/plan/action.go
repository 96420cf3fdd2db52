package plan

import "fmt"

// ActionKind says what an Action asks the driver to do.
type ActionKind int

const (
	// AddReplica adds a voter on To (as a learner first, then promoted).
	AddReplica ActionKind = iota + 1
	// MoveReplica replaces the voter on From with one on To: a learner on
	// To, then one joint change that adds To and removes From.
	MoveReplica
	// RemoveReplica removes the voter or learner on From.
	RemoveReplica
	// TransferLeader moves the shard's leadership from From to To, a voter
	// of the shard.
	TransferLeader
	// Split splits the shard in two. The planner cannot see keys, so the
	// driver picks the split key (the median key of the shard's data).
	Split
)

func (k ActionKind) String() string {
	switch k {
	case AddReplica:
		return "add-replica"
	case MoveReplica:
		return "move-replica"
	case RemoveReplica:
		return "remove-replica"
	case TransferLeader:
		return "transfer-leader"
	case Split:
		return "split"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// isMove reports whether the action is a membership change, which counts
// against Config.MaxMoves and Config.MaxMovesPerNode.
func (k ActionKind) isMove() bool {
	return k == AddReplica || k == MoveReplica || k == RemoveReplica
}

// Action is one step the planner asks the driver to take. From and To are 0
// where the kind has no such end.
type Action struct {
	Kind  ActionKind
	Shard ShardID
	// Epoch is the shard's Epoch in the snapshot the action was planned
	// from; the driver should drop the action if the shard has moved on.
	Epoch    uint64
	From, To NodeID
	// Reason says, in words, which rule planned the action.
	Reason string
}

func (a Action) String() string {
	s := fmt.Sprintf("%s shard=%d", a.Kind, a.Shard)
	if a.From != 0 {
		s += fmt.Sprintf(" from=%d", a.From)
	}
	if a.To != 0 {
		s += fmt.Sprintf(" to=%d", a.To)
	}
	return s + " (" + a.Reason + ")"
}
