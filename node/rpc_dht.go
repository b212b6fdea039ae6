package node

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/rpc"
	"github.com/gotwister/twister/wallet"
)

func multiFlag(p rpc.Params, i int) (bool, error) {
	t, err := p.String(i)
	if err != nil {
		return false, err
	}
	switch t {
	case resource.Single:
		return false, nil
	case resource.Multi:
		return true, nil
	}
	// twisterd answers null or [] to a flag that is neither; we say why.
	return false, rpc.Errorf(rpc.CodeInvalidParam, "resource type must be \"s\" (single) or \"m\" (multi), not %q", t)
}

// itemJSON renders a DHT item as dhtget does.
func itemJSON(it dht.Item) any {
	d := bencode.NewDict()
	d.Set("p", it.PValue)
	d.Set("sig_p", bencode.NewBytes(it.SigP))
	d.Set("sig_user", bencode.NewString(it.SigUser))
	return post.DHTItemToJSON(d)
}

func (n *Node) registerDHTMethods() {
	n.method("dhtget", "dhtget <username> <resource> <s(ingle)/m(ulti)> [timeout_ms] [timeout_multi_ms] [min_multi]", "Get resource from dht network", 3, 6,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			res, err := p.String(1)
			if err != nil {
				return nil, err
			}
			multi, err := multiFlag(p, 2)
			if err != nil {
				return nil, err
			}
			timeoutMs, err := p.IntOr(3, 10000)
			if err != nil {
				return nil, err
			}
			multiMs, err := p.IntOr(4, 100)
			if err != nil {
				return nil, err
			}
			minMulti, err := p.IntOr(5, 3)
			if err != nil {
				return nil, err
			}
			if user == "" || res == "" || len(res) > dht.MaxResourceLen {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "username and resource (at most %d bytes) are required", dht.MaxResourceLen)
			}
			timeout := time.Duration(min(max(timeoutMs, 1), 120000)) * time.Millisecond
			if multi {
				// twisterd waits timeout_multi_ms for more replies once
				// min_multi items are in; our lookup stops at MinMulti or at
				// the overall timeout.
				_ = multiMs
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			items, err := n.net.DHT.Get(ctx, user, res, multi, dht.GetOptions{MinMulti: int(minMulti), Timeout: timeout})
			if err != nil && len(items) == 0 && !errors.Is(err, dht.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, dht.ErrNoNodes) {
				n.log.Debug("dhtget", "user", user, "res", res, "err", err)
			}
			out := []any{}
			seen := map[string]bool{}
			var best *dht.Item
			for i := range items {
				it := items[i]
				if it.SigP == nil && res != resource.Tracker {
					continue
				}
				if !multi {
					if best == nil || it.Seq > best.Seq {
						best = &items[i]
					}
					continue
				}
				if seen[string(it.SigP)] {
					continue
				}
				seen[string(it.SigP)] = true
				out = append(out, itemJSON(it))
			}
			if best != nil {
				out = append(out, itemJSON(*best))
				if res == resource.Profile && best.V.Kind == bencode.Dict {
					n.mu.Lock()
					if n.profiles == nil {
						n.profiles = map[string]map[string]any{}
					}
					if m, ok := post.ToJSON(best.V).(map[string]any); ok {
						n.profiles[user] = m
					}
					n.mu.Unlock()
				}
			}
			return out, nil
		})
	n.method("dhtput", "dhtput <username> <resource> <s(ingle)/m(ulti)> <value> <sig_user> <seq>", "Store resource in dht network", 5, 6,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			res, err := p.String(1)
			if err != nil {
				return nil, err
			}
			multi, err := multiFlag(p, 2)
			if err != nil {
				return nil, err
			}
			v, err := post.FromJSON(p.Raw(3))
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "value cannot be stored: %v", err)
			}
			if pv, perr := post.PostFromJSON(p.Raw(3)); perr == nil {
				if _, derr := post.Decode(bencode.Encode(pv)); derr == nil {
					v = pv // a post given as JSON: restore its binary fields
				}
			}
			sigUser, err := p.String(4)
			if err != nil {
				return nil, err
			}
			var seq int64
			if !multi {
				if !p.Has(5) {
					return nil, rpc.Errorf(rpc.CodeInvalidParam, "seq is required for a single resource")
				}
				if seq, err = p.Int(5); err != nil {
					return nil, err
				}
				if seq < 0 {
					return nil, rpc.Errorf(rpc.CodeInvalidParam, "seq must not be negative")
				}
				if sigUser != user {
					return nil, rpc.Errorf(rpc.CodeInvalidAddress, "Username must be the same as sig_user for single")
				}
			}
			if len(res) == 0 || len(res) > dht.MaxResourceLen {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "resource name must have 1 to %d bytes", dht.MaxResourceLen)
			}
			key, err := n.Wallet.Key(sigUser)
			if errors.Is(err, wallet.ErrLocked) {
				return nil, walletErr(err)
			}
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "error signing with private key of user %s (not in wallet)", sigUser)
			}
			if _, err := n.Chain.KeyAt(sigUser, -1); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%s is not registered: DHT nodes accept only items signed by registered users", sigUser)
			}
			size := len(bencode.Encode(v)) + 120
			if (multi && size > dht.MaxMultiSize) || (!multi && size > dht.MaxSingleSize) {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "value too big for a %s resource", map[bool]string{true: "multi", false: "single"}[multi])
			}
			if res == resource.Profile && v.Kind == bencode.Dict && !multi {
				n.mu.Lock()
				if n.profiles == nil {
					n.profiles = map[string]map[string]any{}
				}
				if m, ok := post.ToJSON(v).(map[string]any); ok {
					n.profiles[user] = m
				}
				n.mu.Unlock()
			}
			height := n.postHeight()
			go func() {
				ctx, cancel := context.WithTimeout(n.ctx, 60*time.Second)
				defer cancel()
				if err := n.net.DHT.Put(ctx, key, sigUser, user, res, multi, v, seq, height); err != nil && !errors.Is(err, dht.ErrQueued) {
					n.log.Info("dhtput", "user", user, "res", res, "err", err)
				}
			}()
			return nil, nil
		})
	n.method("dhtputraw", "dhtputraw <hexdata>", "Store resource in dht network (already signed: {p, sig_p, sig_user})", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			h, err := p.String(0)
			if err != nil {
				return nil, err
			}
			raw, err := hex.DecodeString(h)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "argument must be hexadecimal string")
			}
			item, err := bencode.Decode(raw)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "not a bencoded item: %v", err)
			}
			pv, ok1 := item.GetDict("p")
			sig, ok2 := item.GetBytes("sig_p")
			sigUser, ok3 := item.GetString("sig_user")
			if !ok1 || !ok2 || !ok3 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "item must be {p, sig_p, sig_user}")
			}
			if err := keys.VerifyUser(n.Chain, sigUser, -1, pv.Raw, sig); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "invalid signature: %v", err)
			}
			ctx2, cancel := context.WithTimeout(n.ctx, 60*time.Second)
			go func() {
				defer cancel()
				if err := n.net.DHT.PutSigned(ctx2, pv.Raw, sig, sigUser); err != nil && !errors.Is(err, dht.ErrQueued) {
					n.log.Info("dhtputraw", "err", err)
				}
			}()
			return nil, nil
		})
}

func (n *Node) registerGroupMethods() {
	n.method("creategroup", "creategroup <description> [<groupprivkey>]", "Create a new key pair for group chat and add it to wallet\nReturns the group alias", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			desc, err := p.String(0)
			if err != nil {
				return nil, err
			}
			var k *keys.PrivateKey
			if p.Has(1) {
				s, err := p.String(1)
				if err != nil {
					return nil, err
				}
				if k, err = keys.ParseSecret(s); err != nil {
					return nil, rpc.Errorf(rpc.CodeInvalidKey, "Invalid private key")
				}
			} else if k, err = keys.GenerateKey(); err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "%v", err)
			}
			alias := randomAlias()
			if err := n.Wallet.SetGroup(alias, k, desc, nil); err != nil {
				return nil, walletErr(err)
			}
			return alias, nil
		})
	n.method("listgroups", "listgroups [username] [list_only_ignored=false]", "get list of group chats", 0, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.StringOr(0, "")
			if err != nil {
				return nil, err
			}
			onlyIgnored, err := p.BoolOr(1, false)
			if err != nil {
				return nil, err
			}
			out := []string{}
			for _, alias := range n.Wallet.Groups() {
				g, _ := n.Wallet.Group(alias)
				if onlyIgnored != g.Ignored && onlyIgnored {
					continue
				}
				if user != "" && !contains(g.Members, user) {
					continue
				}
				out = append(out, alias)
			}
			return out, nil
		})
	n.method("getgroupinfo", "getgroupinfo <groupalias>", "get group description and members", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			alias, err := p.String(0)
			if err != nil {
				return nil, err
			}
			g, ok := n.Wallet.Group(alias)
			if !ok {
				return nil, rpc.Errorf(rpc.CodeInternal, "unknown group alias")
			}
			members := g.Members
			if members == nil {
				members = []string{}
			}
			return map[string]any{"alias": alias, "description": g.Description, "members": members}, nil
		})
	n.method("newgroupinvite", "newgroupinvite <username> <k> <groupalias> '[<newmember>,...]'", "Invite some new members to a group chat.\nNote: k is increased by at least 2 (+1 per member)", 4, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			alias, err := p.String(2)
			if err != nil {
				return nil, err
			}
			members, err := p.StringArray(3)
			if err != nil {
				return nil, err
			}
			g, gk, err := n.groupKey(alias)
			if err != nil {
				return nil, err
			}
			invite := dm.GroupInvite{Desc: g.Description, Key: gk.Secret()}.Encode()
			// Check every member and every post number before posting
			// anything, so a refused call leaves nothing half done.
			pubs := make([]keys.PubKey, len(members))
			for i, m := range members {
				if pubs[i], err = n.recipientKey(m); err != nil {
					return nil, err
				}
			}
			for i := int64(1); i <= int64(len(members)); i++ {
				if err := n.checkNewK(user, k+i); err != nil {
					return nil, err
				}
			}
			for _, pub := range pubs {
				if err := n.sealedPost(key, user, k, pub, invite); err != nil {
					return nil, err
				}
				k++
			}
			all := g.Members
			for _, m := range members {
				all = addMember(all, m)
			}
			if err := n.sealedPost(key, user, k, gk.PubKey(), dm.GroupMembers(all).Encode()); err != nil {
				return nil, err
			}
			n.Wallet.SetGroup(alias, nil, g.Description, all)
			return nil, nil
		})
	n.method("newgroupdescription", "newgroupdescription <username> <k> <groupalias> <description>", "Change group description by sending a new invite DM to group", 4, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			alias, err := p.String(2)
			if err != nil {
				return nil, err
			}
			desc, err := p.String(3)
			if err != nil {
				return nil, err
			}
			g, gk, err := n.groupKey(alias)
			if err != nil {
				return nil, err
			}
			if err := n.sealedPost(key, user, k, gk.PubKey(), dm.GroupInvite{Desc: desc, Key: gk.Secret()}.Encode()); err != nil {
				return nil, err
			}
			n.Wallet.SetGroup(alias, nil, desc, g.Members)
			return nil, nil
		})
	n.method("leavegroup", "leavegroup <username> <groupalias>", "Stop receiving chats from group", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.String(0); err != nil {
				return nil, err
			}
			alias, err := p.String(1)
			if err != nil {
				return nil, err
			}
			if _, ok := n.Wallet.Group(alias); !ok {
				return nil, rpc.Errorf(rpc.CodeInternal, "unknown group alias")
			}
			if err := n.Wallet.SetGroupIgnored(alias, true); err != nil {
				return nil, walletErr(err)
			}
			return nil, nil
		})
}

// groupKey returns a group of the wallet and its key, with twisterd's error
// for an unknown alias.
func (n *Node) groupKey(alias string) (wallet.Entry, *keys.PrivateKey, error) {
	g, ok := n.Wallet.Group(alias)
	if !ok {
		return wallet.Entry{}, nil, rpc.Errorf(rpc.CodeInternal, "unknown group alias")
	}
	k, err := n.Wallet.Key(alias)
	if err != nil {
		return wallet.Entry{}, nil, walletErr(err)
	}
	return g, k, nil
}

func (n *Node) sealedPost(key *keys.PrivateKey, user string, k int64, to keys.PubKey, plaintext []byte) error {
	if err := n.checkNewK(user, k); err != nil {
		return err
	}
	sealed, err := dm.Encrypt(to, plaintext)
	if err != nil {
		return rpc.Errorf(rpc.CodeInternal, "%v", err)
	}
	raw, err := post.NewSealedDM(key, user, k, n.now(), n.postHeight(), sealed)
	if err != nil {
		return rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
	}
	_, err = n.publish(user, k, raw, false)
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
