package shard

import (
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// send hands a round's messages to the transport. MsgSnaps leave on the
// snapshot path, from a goroutine of their own, carrying the image the
// round's Storage.Snapshot call captured.
func (s *Store) send(r *replica, msgs []raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	plain := msgs
	for i := range msgs {
		if msgs[i].Type == raftpb.MsgSnap {
			plain = plain[:0:0]
			for j := range msgs {
				if msgs[j].Type == raftpb.MsgSnap {
					s.sendSnapshot(r, msgs[j])
				} else {
					plain = append(plain, msgs[j])
				}
			}
			break
		}
	}
	if len(plain) > 0 && s.tr != nil {
		s.m.messagesSent.Add(uint64(len(plain)))
		s.tr.Send(plain...)
	}
}

// sendSnapshot streams the image for m in the background and reports the
// outcome to the Raft group.
func (s *Store) sendSnapshot(r *replica, m raftpb.Message) {
	var src SnapshotSource
	for i, o := range r.outSnaps {
		if m.Snapshot != nil && o.index == m.Snapshot.Metadata.Index {
			src = o.src
			r.outSnaps = append(r.outSnaps[:i], r.outSnaps[i+1:]...)
			break
		}
	}
	if src == nil || s.tr == nil {
		r.mu.Lock()
		r.mu.snapReports = append(r.mu.snapReports, snapReport{to: m.To, failed: true})
		r.mu.Unlock()
		s.sched.enqueue(r)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer src.Close()
		select {
		case s.snapSlots <- struct{}{}:
		case <-s.closing:
			return
		}
		err := s.tr.SendSnapshot(s.ctx, m, src)
		<-s.snapSlots
		if err != nil {
			s.opts.Logger.Warn("shard: snapshot send failed", "shard", r.id, "to", m.To, "err", err)
		} else {
			s.m.snapshotsSent.Add(1)
		}
		r.mu.Lock()
		r.mu.snapReports = append(r.mu.snapReports, snapReport{to: m.To, failed: err != nil})
		r.mu.Unlock()
		s.sched.enqueue(r)
	}()
}

// closeOutSnaps releases images captured in a round but not sent.
func (r *replica) closeOutSnaps() {
	for _, o := range r.outSnaps {
		_ = o.src.Close()
	}
	clear(r.outSnaps)
	r.outSnaps = r.outSnaps[:0]
}
