package bridge

import (
	"sync"
)

// scheduler runs DHT work for all sessions on a fixed number of workers,
// taking jobs round-robin across sessions: a session with many queued jobs
// gets one turn per round like every other session, so a flooding client
// cannot push other clients' lookups back. Each session's queue is bounded
// by Limits.MaxPending (checked before submit).
type scheduler struct {
	mu     sync.Mutex
	cond   *sync.Cond
	ring   []*session // sessions with queued jobs, in turn order
	closed bool
}

func newScheduler(workers int) *scheduler {
	q := &scheduler{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// submit queues job for ss. It reports false after close.
func (q *scheduler) submit(ss *session, job func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	ss.jobs = append(ss.jobs, job)
	if !ss.inRing {
		ss.inRing = true
		q.ring = append(q.ring, ss)
	}
	q.cond.Signal()
	return true
}

// next takes the first job of the session whose turn it is.
func (q *scheduler) next() (func(), bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ring) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	ss := q.ring[0]
	copy(q.ring, q.ring[1:])
	q.ring[len(q.ring)-1] = nil
	q.ring = q.ring[:len(q.ring)-1]
	job := ss.jobs[0]
	ss.jobs[0] = nil
	ss.jobs = ss.jobs[1:]
	if len(ss.jobs) > 0 {
		q.ring = append(q.ring, ss) // back of the line
	} else {
		ss.inRing = false
		ss.jobs = nil
	}
	return job, true
}

func (q *scheduler) work(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		job, ok := q.next()
		if !ok {
			return
		}
		job()
	}
}

// close stops the workers; queued jobs are dropped (their sessions are
// closing too).
func (q *scheduler) close() {
	q.mu.Lock()
	q.closed = true
	q.ring = nil
	q.cond.Broadcast()
	q.mu.Unlock()
}
