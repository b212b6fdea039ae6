// Command devnet is what `make run` starts: a local twister network on
// loopback. Until the node composition lands it exercises the end-to-end
// path that exists: two users' keys, a post of every kind signed, encoded,
// decoded and validated, and a direct message encrypted and read back.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devnet:", err)
		os.Exit(1)
	}
}

func run() error {
	alice, err := keys.GenerateKey()
	if err != nil {
		return err
	}
	bob, err := keys.GenerateKey()
	if err != nil {
		return err
	}
	chain := resolver{
		StaticResolver: keys.StaticResolver{
			"alice": {{Height: 1, Key: alice.PubKey()}},
			"bob":   {{Height: 1, Key: bob.PubKey()}},
		},
		tip: 10,
	}
	now := time.Now().Unix()
	fmt.Println("alice's secret key:", alice.Secret())
	fmt.Printf("alice's swarm info-hash: %x\n", resource.InfoHash("alice"))

	p1, err := post.NewPost(alice, "alice", 1, now, 9, "hello @bob, this is #twister in Go", nil, nil)
	if err != nil {
		return err
	}
	if _, err := show("post", p1, "alice", 1, chain); err != nil {
		return err
	}
	orig, err := post.OriginalOf(p1)
	if err != nil {
		return err
	}
	one := int64(1)
	reply, err := post.NewPost(bob, "bob", 1, now, 9, "@alice hi!", nil, &post.Ref{User: "alice", K: 1})
	if err != nil {
		return err
	}
	if _, err := show("reply", reply, "bob", 1, chain); err != nil {
		return err
	}
	rt, err := post.NewRetwist(bob, "bob", 2, now, 9, orig, "", &one)
	if err != nil {
		return err
	}
	if _, err := show("retwist", rt, "bob", 2, chain); err != nil {
		return err
	}
	msg, err := post.NewDM(alice, "alice", 2, now, 9, bob.PubKey(), "bob", "a secret for bob")
	if err != nil {
		return err
	}
	p, err := show("direct message", msg, "alice", 2, chain)
	if err != nil {
		return err
	}
	plain, err := dm.Decrypt(bob, *p.DM)
	if err != nil {
		return err
	}
	pt, err := dm.ParsePlaintext(plain)
	if err != nil {
		return err
	}
	fmt.Printf("bob decrypts: %q\n", pt.Text)
	if _, err := dm.Decrypt(alice, *p.DM); err == nil {
		return fmt.Errorf("alice could read a message encrypted to bob")
	}
	fmt.Println("the local network (node, bridge, signaling, web UI) starts here once the node lands")
	return nil
}

type resolver struct {
	keys.StaticResolver
	tip int64
}

func (r resolver) Height() int64 { return r.tip }

func (r resolver) RegistrationHeight(string) (int64, error) { return 1, nil }

func show(kind string, raw []byte, user string, k int64, c post.Chain) (*post.Post, error) {
	p, err := post.Validate(raw, user, k, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	fmt.Printf("%-15s %s/%d %4d bytes, signature ok: %q\n", kind, user, k, len(raw), p.Text())
	return p, nil
}
