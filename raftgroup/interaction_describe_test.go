package raftgroup

import (
	"fmt"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// The compact, stable text forms the scripts print. Indexes and terms are
// written index/term; an entry's data follows a colon.

// describeEntry prints e as index/term, then ":data" for a normal entry
// with data or ":cc{...}" for a membership change.
func describeEntry(e raftpb.Entry) string {
	s := fmt.Sprintf("%d/%d", e.Index, e.Term)
	switch {
	case e.Type == raftpb.EntryConfChange:
		cc, err := raftpb.UnmarshalConfChange(e.Data)
		if err != nil {
			return s + ":cc{malformed}"
		}
		return s + ":cc{" + describeConfChange(cc) + "}"
	case len(e.Data) > 0:
		return s + ":" + string(e.Data)
	}
	return s
}

func describeConfChange(cc raftpb.ConfChange) string {
	s := cc.String()
	switch cc.Transition {
	case raftpb.TransitionJointImplicit:
		s += " implicit"
	case raftpb.TransitionJointExplicit:
		s += " explicit"
	}
	return s
}

func describeEntries(ents []raftpb.Entry) string {
	parts := make([]string, len(ents))
	for i, e := range ents {
		parts[i] = describeEntry(e)
	}
	return strings.Join(parts, " ")
}

// describeMessage prints m as "from->to Type tTerm" and the fields its
// type uses.
func describeMessage(m raftpb.Message) string {
	s := fmt.Sprintf("%d->%d %s t%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case raftpb.MsgApp:
		s += fmt.Sprintf(" prev=%d/%d commit=%d [%s]", m.Index, m.LogTerm, m.Commit, describeEntries(m.Entries))
	case raftpb.MsgAppResp:
		s += fmt.Sprintf(" index=%d", m.Index)
		if m.Reject {
			s += fmt.Sprintf(" reject hint=%d/%d", m.RejectHint, m.LogTerm)
		}
	case raftpb.MsgVote, raftpb.MsgPreVote:
		s += fmt.Sprintf(" last=%d/%d", m.Index, m.LogTerm)
		if m.Context == contextTransfer {
			s += " transfer"
		}
	case raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
		if m.Reject {
			s += " reject"
		} else {
			s += " grant"
		}
	case raftpb.MsgHeartbeat, raftpb.MsgQuiesce:
		s += fmt.Sprintf(" commit=%d", m.Commit)
	case raftpb.MsgSnap:
		if m.Snapshot != nil {
			md := m.Snapshot.Metadata
			s += fmt.Sprintf(" snap=%d/%d %s", md.Index, md.Term, md.ConfState)
		}
	}
	if m.Context != 0 && m.Type != raftpb.MsgVote && m.Type != raftpb.MsgPreVote {
		s += fmt.Sprintf(" ctx=%d", m.Context)
	}
	return s
}

// describeReady prints the parts of rd that are set, one per line.
func describeReady(rd Ready) string {
	var b strings.Builder
	if rd.SoftState != nil {
		fmt.Fprintf(&b, "  role: %s lead=%d\n", rd.SoftState.Role, rd.SoftState.Lead)
	}
	if !rd.HardState.IsEmpty() {
		hs := rd.HardState
		fmt.Fprintf(&b, "  hard: term=%d vote=%d commit=%d\n", hs.Term, hs.Vote, hs.Commit)
	}
	if rd.Snapshot != nil {
		md := rd.Snapshot.Metadata
		fmt.Fprintf(&b, "  snapshot: %d/%d %s\n", md.Index, md.Term, md.ConfState)
	}
	if len(rd.Entries) > 0 {
		fmt.Fprintf(&b, "  entries: %s\n", describeEntries(rd.Entries))
	}
	for _, m := range rd.Messages {
		fmt.Fprintf(&b, "  send: %s\n", describeMessage(m))
	}
	for _, m := range rd.MessagesAfterPersist {
		fmt.Fprintf(&b, "  send after persist: %s\n", describeMessage(m))
	}
	if len(rd.CommittedEntries) > 0 {
		fmt.Fprintf(&b, "  apply: %s\n", describeEntries(rd.CommittedEntries))
	}
	for _, rs := range rd.ReadStates {
		fmt.Fprintf(&b, "  read: id=%d index=%d\n", rs.ID, rs.Index)
	}
	if len(rd.DroppedReads) > 0 {
		fmt.Fprintf(&b, "  reads dropped: %v\n", rd.DroppedReads)
	}
	return b.String()
}

// describeStatus prints a replica's state on one line and, on a leader,
// its view of every member.
func describeStatus(g *Group) string {
	s := g.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%d: %s term=%d vote=%d lead=%d commit=%d applied=%d log=%d..%d %s",
		s.ID, s.SoftState.Role, s.HardState.Term, s.HardState.Vote, s.SoftState.Lead,
		s.HardState.Commit, s.Applied, s.FirstIndex, s.LastIndex, s.Config)
	if s.Quiesced {
		b.WriteString(" quiesced")
	}
	if s.LeadTransferee != raftpb.None {
		fmt.Fprintf(&b, " transferring-to=%d", s.LeadTransferee)
	}
	b.WriteString("\n")
	for i := range g.trk.progress {
		id := g.trk.progress[i].id
		pr, ok := s.Progress[id]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  %d: %s match=%d next=%d", id, pr.State, pr.Match, pr.Next)
		if pr.Learner {
			b.WriteString(" learner")
		}
		if pr.Inflight > 0 {
			fmt.Fprintf(&b, " inflight=%d", pr.Inflight)
		}
		if !pr.RecentActive {
			b.WriteString(" inactive")
		}
		b.WriteString("\n")
	}
	return b.String()
}
