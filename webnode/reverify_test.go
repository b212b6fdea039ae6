//go:build !js

package webnode

import (
	"fmt"
	"testing"

	"github.com/gotwister/twister/post"
)

// BenchmarkReverify1000 re-verifies a timeline of 1,000 posts by one
// author held by a webnode, cold (Reverify forgets remembered signatures
// and key tables first): the browser's verification benchmark, natively.
func BenchmarkReverify1000(b *testing.B) {
	const nPosts = 1000
	tn := newTestnet(b, "alice", "webby")
	tn.Mine(490) // post numbers up to 2·(tip − registration) + 20
	n, _ := tn.newWebnode(nil, nil)
	for k := range int64(nPosts) {
		p, err := post.Decode(tn.MakePost("alice", k, fmt.Sprintf("alice: post %d", k)))
		if err != nil {
			b.Fatal(err)
		}
		n.index(p)
	}
	if ok, failed, _ := n.Reverify(); ok != nPosts || failed != 0 {
		b.Fatalf("warm-up: %d ok, %d failed", ok, failed)
	}
	b.ResetTimer()
	var total float64
	for b.Loop() {
		ok, failed, took := n.Reverify()
		if ok != nPosts || failed != 0 {
			b.Fatalf("%d ok, %d failed", ok, failed)
		}
		total += took.Seconds()
	}
	b.ReportMetric(total*1000/float64(b.N), "ms/1000posts")
}
