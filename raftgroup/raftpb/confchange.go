package raftpb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ConfState is a group's membership: the voters of the incoming and (while
// joint) outgoing configurations, the learners, and the learners that will
// be added when the joint configuration is left.
//
// Invariant: a node appears in at most one of Voters and Learners, and in
// at most one of Learners and VotersOutgoing; LearnersNext holds only nodes
// in VotersOutgoing and not in Voters.
type ConfState struct {
	Voters         []NodeID
	VotersOutgoing []NodeID
	Learners       []NodeID
	LearnersNext   []NodeID
	// AutoLeave asks the leader to leave the joint configuration on its
	// own as soon as the entry that entered it is applied.
	AutoLeave bool
}

// Joint reports whether cs is a joint configuration.
func (cs ConfState) Joint() bool { return len(cs.VotersOutgoing) > 0 }

// Clone returns a deep copy of cs (its slices are not shared).
func (cs ConfState) Clone() ConfState {
	return ConfState{
		Voters:         slices.Clone(cs.Voters),
		VotersOutgoing: slices.Clone(cs.VotersOutgoing),
		Learners:       slices.Clone(cs.Learners),
		LearnersNext:   slices.Clone(cs.LearnersNext),
		AutoLeave:      cs.AutoLeave,
	}
}

// Equal reports whether cs and o describe the same membership, ignoring
// order.
func (cs ConfState) Equal(o ConfState) bool {
	eq := func(a, b []NodeID) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	}
	return eq(cs.Voters, o.Voters) && eq(cs.VotersOutgoing, o.VotersOutgoing) &&
		eq(cs.Learners, o.Learners) && eq(cs.LearnersNext, o.LearnersNext) && cs.AutoLeave == o.AutoLeave
}

func (cs ConfState) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "voters=%v", cs.Voters)
	if cs.Joint() {
		fmt.Fprintf(&b, "&&%v", cs.VotersOutgoing)
	}
	if len(cs.Learners) > 0 {
		fmt.Fprintf(&b, " learners=%v", cs.Learners)
	}
	if len(cs.LearnersNext) > 0 {
		fmt.Fprintf(&b, " learners_next=%v", cs.LearnersNext)
	}
	if cs.AutoLeave {
		b.WriteString(" autoleave")
	}
	return b.String()
}

// ConfChangeType is one kind of single membership step.
type ConfChangeType uint8

const (
	// AddVoter makes the node a voter (promoting a learner).
	AddVoter ConfChangeType = iota + 1
	// AddLearner makes the node a learner (demoting a voter, which then
	// stays a voter of the outgoing configuration until the joint
	// configuration is left).
	AddLearner
	// RemoveNode removes the node.
	RemoveNode
)

func (t ConfChangeType) String() string {
	switch t {
	case AddVoter:
		return "v"
	case AddLearner:
		return "l"
	case RemoveNode:
		return "r"
	}
	return fmt.Sprintf("ConfChangeType(%d)", uint8(t))
}

// ConfChangeSingle is one membership step.
type ConfChangeSingle struct {
	Type ConfChangeType
	Node NodeID
}

// ConfChangeTransition says how a change is carried out.
type ConfChangeTransition uint8

const (
	// TransitionAuto uses a single simple step when the change alters at
	// most one voter, and otherwise joint consensus left automatically.
	TransitionAuto ConfChangeTransition = iota
	// TransitionJointImplicit always uses joint consensus, left
	// automatically once the entering entry is applied.
	TransitionJointImplicit
	// TransitionJointExplicit always uses joint consensus and stays joint
	// until an empty ConfChange (LeaveJoint) is proposed.
	TransitionJointExplicit
)

// ConfChange is a membership change: a list of steps applied together. A
// ConfChange with no steps leaves the current joint configuration.
type ConfChange struct {
	Transition ConfChangeTransition
	Changes    []ConfChangeSingle
	// Context is opaque to Raft (for example the new node's address).
	Context []byte
}

// LeaveJoint reports whether cc is the empty change that leaves a joint
// configuration.
func (cc ConfChange) LeaveJoint() bool {
	return len(cc.Changes) == 0 && cc.Transition == TransitionAuto && len(cc.Context) == 0
}

// EnterJoint reports whether cc must use joint consensus, and if so whether
// the joint configuration is left automatically.
func (cc ConfChange) EnterJoint() (autoLeave, ok bool) {
	if cc.Transition != TransitionAuto || len(cc.Changes) > 1 {
		switch cc.Transition {
		case TransitionAuto, TransitionJointImplicit:
			autoLeave = true
		}
		return autoLeave, true
	}
	return false, false
}

func (cc ConfChange) String() string {
	if cc.LeaveJoint() {
		return "leave-joint"
	}
	parts := make([]string, len(cc.Changes))
	for i, c := range cc.Changes {
		parts[i] = fmt.Sprintf("%s%d", c.Type, c.Node)
	}
	return strings.Join(parts, " ")
}

// ErrBadConfChange is returned when encoded ConfChange bytes cannot be
// decoded.
var ErrBadConfChange = errors.New("raftpb: malformed conf change")

// confChangeVersion is the first byte of an encoded ConfChange.
const confChangeVersion = 1

// maxConfChangeSteps bounds the steps a decoded ConfChange may hold, so a
// malformed length cannot make the decoder allocate without limit.
const maxConfChangeSteps = 1024

// Marshal encodes cc as:
//
//	| field       | encoding                       |
//	|-------------|--------------------------------|
//	| version     | 1 byte (1)                     |
//	| transition  | 1 byte                         |
//	| steps       | uvarint count, then per step:  |
//	|             |   1 byte type, uvarint node    |
//	| context     | uvarint length, then bytes     |
func (cc ConfChange) Marshal() []byte {
	buf := make([]byte, 0, 4+len(cc.Changes)*11+len(cc.Context)+binary.MaxVarintLen64)
	buf = append(buf, confChangeVersion, byte(cc.Transition))
	buf = binary.AppendUvarint(buf, uint64(len(cc.Changes)))
	for _, c := range cc.Changes {
		buf = append(buf, byte(c.Type))
		buf = binary.AppendUvarint(buf, uint64(c.Node))
	}
	buf = binary.AppendUvarint(buf, uint64(len(cc.Context)))
	return append(buf, cc.Context...)
}

// UnmarshalConfChange decodes bytes written by [ConfChange.Marshal]. It
// returns an error wrapping ErrBadConfChange for any malformed input and
// never panics.
func UnmarshalConfChange(b []byte) (ConfChange, error) {
	var cc ConfChange
	if len(b) < 2 || b[0] != confChangeVersion {
		return cc, fmt.Errorf("%w: bad header", ErrBadConfChange)
	}
	if b[1] > byte(TransitionJointExplicit) {
		return cc, fmt.Errorf("%w: transition %d", ErrBadConfChange, b[1])
	}
	cc.Transition = ConfChangeTransition(b[1])
	b = b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxConfChangeSteps {
		return cc, fmt.Errorf("%w: step count", ErrBadConfChange)
	}
	b = b[k:]
	if n > 0 {
		cc.Changes = make([]ConfChangeSingle, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		if len(b) < 2 {
			return cc, fmt.Errorf("%w: truncated step", ErrBadConfChange)
		}
		t := ConfChangeType(b[0])
		if t < AddVoter || t > RemoveNode {
			return cc, fmt.Errorf("%w: step type %d", ErrBadConfChange, b[0])
		}
		node, k := binary.Uvarint(b[1:])
		if k <= 0 {
			return cc, fmt.Errorf("%w: step node", ErrBadConfChange)
		}
		cc.Changes = append(cc.Changes, ConfChangeSingle{Type: t, Node: NodeID(node)})
		b = b[1+k:]
	}
	l, k := binary.Uvarint(b)
	if k <= 0 || l != uint64(len(b)-k) {
		return cc, fmt.Errorf("%w: context length", ErrBadConfChange)
	}
	if l > 0 {
		cc.Context = append([]byte(nil), b[k:]...)
	}
	return cc, nil
}
