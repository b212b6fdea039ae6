package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// putQueue publishes the DHT resources of new posts (§3.9) in the
// background, oldest first, with a few workers, so that newpostmsg
// answers as soon as the post is stored and a burst of posts does not
// start a lookup per resource all at once. Of several status items of one
// user waiting, only the newest is published: status is a single resource
// whose seq is the post number, so an older one would only be replaced.
type putQueue struct {
	n       *Node
	workers int

	mu      sync.Mutex
	jobs    []putJob
	status  map[string]int64 // newest status post number queued, per user
	running int
	skipped int64 // status items superseded before they went out
}

// putJob is one DHT item to sign and publish.
type putJob struct {
	key         *keys.PrivateKey
	sigUser     string
	name, res   string
	multi       bool
	v           bencode.Value
	seq, height int64
}

func newPutQueue(n *Node, workers int) *putQueue {
	return &putQueue{n: n, workers: workers, status: map[string]int64{}}
}

// add queues jobs and starts workers as needed.
func (q *putQueue) add(jobs ...putJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		if !j.multi && j.res == resource.Status {
			q.status[j.name] = max(q.status[j.name], j.seq)
		}
		q.jobs = append(q.jobs, j)
	}
	for q.running < q.workers && q.running < len(q.jobs) {
		q.running++
		go q.work()
	}
}

// next pops the oldest job still worth publishing; ok is false when the
// queue is empty (the worker then stops).
func (q *putQueue) next() (putJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) > 0 {
		j := q.jobs[0]
		q.jobs[0] = putJob{}
		q.jobs = q.jobs[1:]
		if !j.multi && j.res == resource.Status {
			if newest := q.status[j.name]; j.seq < newest {
				q.skipped++
				continue
			}
			delete(q.status, j.name)
		}
		return j, true
	}
	q.jobs = nil
	q.running--
	return putJob{}, false
}

func (q *putQueue) work() {
	for {
		j, ok := q.next()
		if !ok {
			return
		}
		if q.n.ctx.Err() != nil {
			continue // drain without publishing: the node is stopping
		}
		ctx, cancel := context.WithTimeout(q.n.ctx, 30*time.Second)
		err := q.n.net.DHT.Put(ctx, j.key, j.sigUser, j.name, j.res, j.multi, j.v, j.seq, j.height)
		cancel()
		if err != nil && !errors.Is(err, dht.ErrQueued) && !errors.Is(err, context.Canceled) {
			q.n.log.Debug("dht put", "name", j.name, "res", j.res, "err", err)
		}
	}
}

// pending returns how many items wait.
func (q *putQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}
