package gossip

import (
	"fmt"
	"time"
)

// State is a member's liveness as this node sees it.
type State int

const (
	// Alive: the member answers probes (or has not yet been found
	// failing).
	Alive State = iota
	// Suspect: memberlist suspects the member has failed. NB: memberlist
	// v0.7.0 raises no callback for suspicion and hides the state (see
	// the package doc), so this package never reports it; the value is
	// kept so callers handle it once a memberlist release exposes it.
	Suspect
	// Dead: the member failed (it did not leave gracefully).
	Dead
	// Left: the member left gracefully with [Gossip.Leave].
	Left
)

// String returns the state's lowercase name.
func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	default:
		return fmt.Sprintf("state(%d)", int(s))
	}
}

// Live reports whether a member in state s should be sent traffic.
func (s State) Live() bool { return s == Alive || s == Suspect }

// Member is one node as this node's gossip sees it.
type Member struct {
	Meta
	// State is the member's liveness.
	State State
	// Addr is the member's gossip address ("host:port").
	Addr string
	// Since is when this node saw State begin (local clock).
	Since time.Time
}

// Events are callbacks for membership changes. Each may be nil. They are
// called from one goroutine of the Gossip, one at a time, in the order
// this node saw the changes, never while the Gossip holds a lock: a
// callback may call Members, Member and Resolve, but must not call Leave
// or Shutdown (they wait for the callback to return) and should return
// quickly (events queue behind it; see MaxPendingEvents).
type Events struct {
	// Join: a member appeared, or came back after Dead or Left (a
	// restarted node, possibly with new addresses). The local node's own
	// Join is the first event.
	Join func(Member)
	// Update: an Alive member's Meta changed.
	Update func(Member)
	// Dead: a member failed (not a graceful leave).
	Dead func(Member)
	// Leave: a member left gracefully. The local node's own Leave is not
	// reported.
	Leave func(Member)
}
