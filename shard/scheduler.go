package shard

import "sync"

// Scheduling states of a replica (replica.sched). A replica is in the
// ready queue at most once and in at most one round at a time.
const (
	schedIdle    uint32 = iota // not queued, not running
	schedQueued                // in the ready queue
	schedRunning               // in a round
	schedDirty                 // in a round, and new input arrived
)

// scheduler is the node's ready queue: a deduplicated FIFO of replicas
// with work, drained by the workers in batches (rounds). There is no
// goroutine or timer per group.
type scheduler struct {
	mu     sync.Mutex
	queue  []*replica
	head   int
	notify chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{notify: make(chan struct{}, 1)}
}

// enqueue marks r as having work. Cheap when r is already queued or
// running (a single CAS).
func (s *scheduler) enqueue(r *replica) {
	for {
		switch st := r.sched.Load(); st {
		case schedIdle:
			if r.sched.CompareAndSwap(schedIdle, schedQueued) {
				s.push(r)
				return
			}
		case schedRunning:
			if r.sched.CompareAndSwap(schedRunning, schedDirty) {
				return
			}
		default: // queued, or running and already marked dirty
			return
		}
	}
}

func (s *scheduler) push(r *replica) {
	s.mu.Lock()
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take removes up to max replicas from the queue and marks them running;
// it returns nil when the queue is empty.
func (s *scheduler) take(dst []*replica, max int) []*replica {
	s.mu.Lock()
	n := min(max, len(s.queue)-s.head)
	dst = append(dst[:0], s.queue[s.head:s.head+n]...)
	s.head += n
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head > 4096 && s.head*2 > len(s.queue) {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
	more := s.head < len(s.queue)
	s.mu.Unlock()
	for _, r := range dst {
		r.sched.Store(schedRunning)
	}
	if more {
		// Wake another worker for the rest.
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return dst
}

// trim gives back an empty queue's array if it is larger than
// maxIdleQueue: a start-up queues every replica, some several times, and
// the array would stay that size for good. Called by the ticker once the
// store is quiet (not on every emptying: during a start-up the queue
// empties and refills often, and regrowing it churned the collector).
func (s *scheduler) trim() {
	s.mu.Lock()
	if s.head == len(s.queue) && cap(s.queue) > maxIdleQueue {
		s.queue, s.head = nil, 0
	}
	s.mu.Unlock()
}

// maxIdleQueue is the capacity trim leaves (32 KiB of pointers).
const maxIdleQueue = 4096

// done ends r's round; r goes back into the queue if input arrived
// meanwhile.
func (s *scheduler) done(r *replica) {
	if r.sched.CompareAndSwap(schedRunning, schedIdle) {
		return
	}
	r.sched.Store(schedQueued)
	s.push(r)
}

// depth is the number of queued replicas.
func (s *scheduler) depth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) - s.head
}
