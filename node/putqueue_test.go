package node

import (
	"testing"

	"github.com/gotwister/twister/resource"
)

// TestPutQueueOrderAndStatus checks the queue's rules without workers:
// items come out oldest first, and of a user's waiting status items only
// the newest goes out (other users' and other resources untouched).
func TestPutQueueOrderAndStatus(t *testing.T) {
	q := newPutQueue(nil, 0)
	job := func(name, res string, multi bool, seq int64) putJob {
		return putJob{name: name, res: res, multi: multi, seq: seq}
	}
	for k := int64(1); k <= 3; k++ {
		q.add(job("alice", resource.Post(k), false, 1), job("alice", resource.Status, false, k), job("tag", resource.Hashtag, true, 0))
	}
	q.add(job("bob", resource.Status, false, 7))
	var got []string
	for {
		j, ok := q.next()
		if !ok {
			break
		}
		got = append(got, j.name+"/"+j.res)
		if j.res == resource.Status && j.name == "alice" && j.seq != 3 {
			t.Errorf("alice's status %d went out, a newer one was waiting", j.seq)
		}
	}
	want := []string{"alice/post1", "tag/hashtag", "alice/post2", "tag/hashtag", "alice/post3", "alice/status", "tag/hashtag", "bob/status"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if q.skipped != 2 {
		t.Errorf("skipped %d status items, want 2", q.skipped)
	}
	// A status queued after the newest went out is published again.
	q.add(job("alice", resource.Status, false, 4))
	if j, ok := q.next(); !ok || j.seq != 4 {
		t.Errorf("later status: %+v %v", j, ok)
	}
}
