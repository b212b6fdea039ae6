package webnode

import (
	"fmt"
	"testing"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
)

// timelineChain is a post.Chain over fixed key histories at a fixed tip.
type timelineChain struct {
	keys.StaticResolver
	tip int64
}

func (c timelineChain) Height() int64 { return c.tip }

func (c timelineChain) RegistrationHeight(user string) (int64, error) {
	h, ok := c.StaticResolver[user]
	if !ok {
		return 0, keys.ErrUnknownUser
	}
	return h[len(h)-1].Height, nil
}

// BenchmarkValidateTimeline1000 is Reverify's loop without a running node,
// so that it also runs under js/wasm (Node.js): post.Validate of 1,000
// posts by one author, cold (remembered signatures and key tables are
// forgotten before each pass, as Reverify does).
func BenchmarkValidateTimeline1000(b *testing.B) {
	const nPosts = 1000
	k, err := keys.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	c := timelineChain{StaticResolver: keys.StaticResolver{"alice": {{Height: 1, Key: k.PubKey()}}}, tip: 600}
	raws := make([][]byte, nPosts)
	for i := range raws {
		var lastk *int64
		if i > 0 {
			l := int64(i - 1)
			lastk = &l
		}
		if raws[i], err = post.NewPost(k, "alice", int64(i), 1700000000+int64(i), 500, fmt.Sprintf("alice: post %d", i), lastk, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		keys.ResetVerifyCache()
		for i, raw := range raws {
			if _, err := post.Validate(raw, "alice", int64(i), c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/1000posts")
}
