package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/rpc"
	"github.com/gotwister/twister/text"
	"github.com/gotwister/twister/timeline"
	"github.com/gotwister/twister/wallet"
)

// postHeight is the height a new post or DHT item carries: the tip minus
// one, "to be conservative" as twisterd says.
func (n *Node) postHeight() int64 {
	h := n.Chain.Height() - 1
	if h < 0 {
		h = 0
	}
	return h
}

func (n *Node) now() int64 { return time.Now().Unix() }

// signingKey returns a local user's key with twisterd's error.
func (n *Node) signingKey(user string) (*keys.PrivateKey, error) {
	k, err := n.Wallet.Key(user)
	if errors.Is(err, wallet.ErrLocked) {
		return nil, walletErr(err)
	}
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInternal, "error signing post with private key of user")
	}
	return k, nil
}

// checkNewK refuses a post number already used or over the limit.
func (n *Node) checkNewK(user string, k int64) error {
	if k < 0 {
		return rpc.Errorf(rpc.CodeInvalidParam, "post number k must not be negative")
	}
	if _, ok := n.net.Swarm.Post(user, k); ok {
		return rpc.Errorf(rpc.CodeInvalidParam, "post number %d of %s is already used (next free: %d)", k, user, n.net.Swarm.LastHave(user)+1)
	}
	if err := post.CheckPostNumber(n.Chain, user, k); err != nil {
		return rpc.Errorf(rpc.CodeInvalidParam, "cannot post as %s with k=%d: %v", user, k, err)
	}
	return nil
}

// lastPublic returns the k of user's newest public post below k.
func (n *Node) lastPublic(user string, k int64) *int64 {
	below := k - 1
	ps := n.net.Index.Posts(1, []timeline.UserRange{{User: user, MaxID: &below}}, post.FlagRT, 0)
	if len(ps) == 0 {
		return nil
	}
	last := ps[0].K
	return &last
}

// publish adds a post we made to our swarm (which stores, indexes and
// announces it) and writes the DHT resources twisterd writes for it.
func (n *Node) publish(user string, k int64, raw []byte, public bool) (any, error) {
	if err := n.net.Swarm.AddPost(user, k, raw); err != nil {
		return nil, rpc.Errorf(rpc.CodeInternal, "cannot add post: %v", err)
	}
	p, err := post.Decode(raw)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInternal, "%v", err)
	}
	if public {
		n.dispatchPost(user, p)
	}
	return p.JSON(), nil
}

// dispatchPost queues the post<k>, status, replies<k>, rts<k>, mention
// and hashtag resources (§3.9) for publication in the background (see
// putQueue); the DHT keeps what it cannot publish yet and retries.
func (n *Node) dispatchPost(user string, p *post.Post) {
	key, err := n.Wallet.Key(user)
	if err != nil {
		return
	}
	job := func(name, res string, multi bool, seq int64) putJob {
		return putJob{key: key, sigUser: user, name: name, res: res, multi: multi, v: p.Value, seq: seq, height: p.Height}
	}
	jobs := []putJob{job(user, resource.Post(p.K), false, 1), job(user, resource.Status, false, p.K)}
	if p.Reply != nil {
		jobs = append(jobs, job(p.Reply.User, resource.Replies(p.Reply.K), true, 0))
	}
	if p.RT != nil {
		jobs = append(jobs, job(p.RT.User, resource.Rts(p.RT.K), true, 0))
	}
	for _, m := range p.Mentions() {
		jobs = append(jobs, job(m, resource.Mention, true, 0))
	}
	for _, h := range p.Hashtags() {
		jobs = append(jobs, job(h, resource.Hashtag, true, 0))
	}
	n.puts.add(jobs...)
}

func (n *Node) registerSocialMethods() {
	n.method("follow", "follow <username> [follow_username1,follow_username2,...]", "start following users", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, users, err := n.localAndUsers(p)
			if err != nil {
				return nil, err
			}
			added, err := n.net.follows.add(local, users)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeDatabase, "cannot save the following list: %v", err)
			}
			for _, u := range added {
				if err := n.net.Swarm.Follow(u); err != nil {
					n.log.Warn("follow", "user", u, "err", err)
				}
			}
			n.publishFollowing(local)
			n.scanMentions(local, added)
			if err := n.net.Index.RescanDMs(); err != nil {
				n.log.Warn("rescan", "err", err)
			}
			return nil, nil
		})
	n.method("unfollow", "unfollow <username> [unfollow_username1,unfollow_username2,...]", "stop following users", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, users, err := n.localAndUsers(p)
			if err != nil {
				return nil, err
			}
			if err := n.net.follows.remove(local, users); err != nil {
				return nil, rpc.Errorf(rpc.CodeDatabase, "cannot save the following list: %v", err)
			}
			for _, u := range users {
				if !n.net.follows.followedByAnyoneElse(local, u) && !n.Wallet.Has(u) {
					n.net.Swarm.Unfollow(u)
				}
			}
			n.publishFollowing(local)
			return nil, nil
		})
	n.method("getfollowing", "getfollowing <username>", "get list of users we follow", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, err := p.String(0)
			if err != nil {
				return nil, err
			}
			return n.net.follows.get(local), nil
		})
	n.method("getlasthave", "getlasthave <username> | <groupname> [user1,user2...]", "get last 'have' (higher post number) of each user local user follows", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			users, err := n.followedOrGiven(p)
			if err != nil {
				return nil, err
			}
			out := map[string]int64{}
			for _, u := range users {
				out[u] = n.net.Swarm.LastHave(u)
			}
			return out, nil
		})
	n.method("getnumpieces", "getnumpieces <username>", "get number of posts already downloaded for each user user follows", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			users, err := n.followedOrGiven(p)
			if err != nil {
				return nil, err
			}
			return n.net.Index.NumPieces(users), nil
		})
	n.method("newpostmsg", "newpostmsg <username> <k> <msg> [reply_n] [reply_k]", "Post a new message to swarm", 3, 5,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			k, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			msg, err := p.String(2)
			if err != nil {
				return nil, err
			}
			var reply *post.Ref
			if p.Len() > 3 {
				rn, err := p.String(3)
				if err != nil {
					return nil, err
				}
				rk, err := p.Int(4)
				if err != nil {
					return nil, rpc.Errorf(rpc.CodeMisc, "newpostmsg <username> <k> <msg> [reply_n] [reply_k]")
				}
				reply = &post.Ref{User: rn, K: rk}
			}
			if err := checkText(msg); err != nil {
				return nil, err
			}
			key, err := n.signingKey(user)
			if err != nil {
				return nil, err
			}
			if err := n.checkNewK(user, k); err != nil {
				return nil, err
			}
			raw, err := post.NewPost(key, user, k, n.now(), n.postHeight(), msg, n.lastPublic(user, k), reply)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			return n.publish(user, k, raw, true)
		})
	n.method("newpostcustom", "newpostcustom <username> <k> '{\"field1\":value,\"field2\":value,...}'", "Post a new custom piece to swarm", 3, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			obj, err := p.Object(2)
			if err != nil {
				return nil, err
			}
			fields := map[string]bencode.Value{}
			for name, v := range obj {
				bv, err := post.FromJSON(v)
				if err != nil || (bv.Kind != bencode.String && bv.Kind != bencode.Int) {
					return nil, rpc.Errorf(rpc.CodeInvalidParam, "field %q must be a string or an integer", name)
				}
				fields[name] = bv
			}
			raw, err := post.NewCustom(key, user, k, n.now(), n.postHeight(), n.lastPublic(user, k), fields)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			return n.publish(user, k, raw, true)
		})
	n.method("newpostraw", "newpostraw <username> <k> <hexdata>", "Post a new raw (already signed) piece to swarm", 3, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			k, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			h, err := p.String(2)
			if err != nil {
				return nil, err
			}
			raw, err := hex.DecodeString(h)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "argument must be hexadecimal string")
			}
			if _, ok := n.net.Swarm.Post(user, k); ok {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "post number %d of %s is already used", k, user)
			}
			if _, err := post.Validate(raw, user, k, n.Chain); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "invalid post: %v", err)
			}
			if err := n.net.Swarm.AddPost(user, k, raw); err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "cannot add post: %v", err)
			}
			return nil, nil
		})
	n.method("newrtmsg", "newrtmsg <username> <k> <rt_v_object> [comment]", "Post a new RT to swarm", 3, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			orig, err := n.originalParam(p, 2, "rt_v_object")
			if err != nil {
				return nil, err
			}
			comment, err := p.StringOr(3, "")
			if err != nil {
				return nil, err
			}
			if err := checkText(comment); comment != "" && err != nil {
				return nil, err
			}
			raw, err := post.NewRetwist(key, user, k, n.now(), n.postHeight(), orig, comment, n.lastPublic(user, k))
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			return n.publish(user, k, raw, true)
		})
	n.method("newfavmsg", "newfavmsg <username> <k> <fav_v_object> [private=false] [comment='']", "Add a post to swarm as a favorite", 3, 5,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			orig, err := n.originalParam(p, 2, "fav_v_object")
			if err != nil {
				return nil, err
			}
			private, err := p.BoolOr(3, false)
			if err != nil {
				return nil, err
			}
			comment, err := p.StringOr(4, "")
			if err != nil {
				return nil, err
			}
			if err := checkText(comment); comment != "" && err != nil {
				return nil, err
			}
			var raw []byte
			if private {
				raw, err = post.NewPrivateFav(key, user, k, n.now(), n.postHeight(), orig, comment)
			} else {
				raw, err = post.NewFav(key, user, k, n.now(), n.postHeight(), orig, comment)
			}
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			res, err := n.publish(user, k, raw, false)
			if err == nil && !private && comment != "" {
				// A public favourite's comment mentions and tags like a post.
				if pp, derr := post.Decode(raw); derr == nil {
					n.dispatchMentionsOnly(user, pp)
				}
			}
			return res, err
		})
	n.method("newdirectmsg", "newdirectmsg <from> <k> <to> <msg> [copy_self=false]", "Post a new direct message to user <to>", 4, 5,
		func(ctx context.Context, p rpc.Params) (any, error) {
			from, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			to, err := p.String(2)
			if err != nil {
				return nil, err
			}
			msg, err := p.String(3)
			if err != nil {
				return nil, err
			}
			copySelf, err := p.BoolOr(4, false)
			if err != nil {
				return nil, err
			}
			if msg == "" {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "empty message")
			}
			toPub, err := n.recipientKey(to)
			if err != nil {
				return nil, err
			}
			if copySelf {
				if err := n.checkNewK(from, k+1); err != nil {
					return nil, err
				}
			}
			raw, err := post.NewDM(key, from, k, n.now(), n.postHeight(), toPub, to, msg)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			res, err := n.publish(from, k, raw, false)
			if err != nil {
				return nil, err
			}
			if !strings.HasPrefix(to, "*") {
				n.net.Index.AddSentDM(from, to, k, n.now(), msg)
			}
			if copySelf {
				cp, err := post.NewDM(key, from, k+1, n.now(), n.postHeight(), key.PubKey(), to, msg)
				if err != nil {
					return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
				}
				return n.publish(from, k+1, cp, false)
			}
			return res, nil
		})
	n.method("getposts", "getposts <count> '[{\"username\":username,\"max_id\":max_id,\"since_id\":since_id},...]' [allowed_flags=~2] [required_flags=0]", "get posts from users\nmax_id and since_id may be omited", 2, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			count, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			ranges, err := userRanges(p, 1)
			if err != nil {
				return nil, err
			}
			allowed, err := p.IntOr(2, int64(timeline.DefaultAllowed))
			if err != nil {
				return nil, err
			}
			required, err := p.IntOr(3, 0)
			if err != nil {
				return nil, err
			}
			if count < 0 || count > 10000 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "count must be between 0 and 10000")
			}
			out := []json.RawMessage{}
			if promo, ok := n.net.Index.PromotedFor(time.Now(), n.Chain.Height()); ok && count > 0 {
				b, _ := json.Marshal(promo)
				out = append(out, b)
			}
			out = append(out, n.net.Index.PostsJSON(int(count), ranges, post.Flags(allowed), post.Flags(required))...)
			return out, nil
		})
	n.method("getdirectmsgs", "getdirectmsgs <localuser> <count_per_user> '[{\"username\":username,\"max_id\":max_id,\"since_id\":since_id},...]'", "get (locally stored) decrypted direct messages sent/received by user <localuser>", 3, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, err := p.String(0)
			if err != nil {
				return nil, err
			}
			count, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			ranges, err := userRanges(p, 2)
			if err != nil {
				return nil, err
			}
			return n.net.Index.DirectMsgs(local, int(count), ranges), nil
		})
	n.method("getmentions", "getmentions <localuser> <count> '{\"max_id\":max_id,\"since_id\":since_id}'", "Get (locally stored) mentions to user <localuser> by users followed.", 2, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, count, maxID, sinceID, err := localCountRange(p)
			if err != nil {
				return nil, err
			}
			return nonNil(n.net.Index.Mentions(local, count, maxID, sinceID)), nil
		})
	n.method("getfavs", "getfavs <localuser> <count> '{\"max_id\":max_id,\"since_id\":since_id}'", "Get favorite posts (private favorites are returned with isPrivate)", 2, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			local, count, maxID, sinceID, err := localCountRange(p)
			if err != nil {
				return nil, err
			}
			return nonNil(n.net.Index.Favs(local, count, maxID, sinceID)), nil
		})
	n.method("gettrendinghashtags", "gettrendinghashtags <count>", "obtain list of trending hashtags", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			count, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			out := n.net.Index.TrendingHashtags(int(max(count, 0)))
			if out == nil {
				out = []string{}
			}
			return out, nil
		})
	n.method("getspamposts", "getspamposts <count> [max_id] [since_id]", "get spam posts from blockchain\nmax_id and since_id may be omited (or -1)", 1, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			count, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			maxID, err := optID(p, 1)
			if err != nil {
				return nil, err
			}
			sinceID, err := optID(p, 2)
			if err != nil {
				return nil, err
			}
			return nonNil(n.net.Index.SpamPosts(int(count), maxID, sinceID, n.Chain.Height())), nil
		})
	n.method("rescandirectmsgs", "rescandirectmsgs <username>", "rescan all streams of users we follow for new and old directmessages", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.String(0); err != nil {
				return nil, err
			}
			if err := n.net.Index.RescanDMs(); err != nil {
				return nil, rpc.Errorf(rpc.CodeDatabase, "%v", err)
			}
			return nil, nil
		})
	n.method("recheckusertorrent", "recheckusertorrent <username>", "recheck all posts in a given torrent", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			ks, _ := n.net.Posts.List(user)
			for _, k := range ks {
				if data, ok, _ := n.net.Posts.Get(user, k); ok {
					if _, err := post.Validate(data, user, k, n.Chain); err != nil {
						n.log.Warn("recheck: invalid post held", "user", user, "k", k, "err", err)
					}
				}
			}
			return nil, nil
		})
	n.method("search", "search <scope> <text> <count> ['{\"username\":username,\"mode\":\"exact\"|\"all\"|\"any\",\"case\":\"sensitive\"|\"insensitive\",\"agemin\":agemin,\"agemax\":agemax}']", "search text in available data\n<scope> is data area: messages, directmsgs, profiles, users, hashtags, favorites", 3, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			scope, err := p.String(0)
			if err != nil {
				return nil, err
			}
			txt, err := p.String(1)
			if err != nil {
				return nil, err
			}
			count, err := p.Int(2)
			if err != nil {
				return nil, err
			}
			var opts timeline.SearchOptions
			if p.Has(3) {
				o, err := p.Object(3)
				if err != nil {
					return nil, err
				}
				opts.Username, _ = o["username"].(string)
				opts.Mode, _ = o["mode"].(string)
				opts.Case, _ = o["case"].(string)
				if v, ok := o["agemin"]; ok {
					x, err := rpc.AsInt(v)
					if err != nil {
						return nil, err
					}
					opts.AgeMin = &x
				}
				if v, ok := o["agemax"]; ok {
					x, err := rpc.AsInt(v)
					if err != nil {
						return nil, err
					}
					opts.AgeMax = &x
				}
			}
			res, err := n.net.Index.Search(scope, txt, int(count), opts)
			if err != nil {
				if errors.Is(err, timeline.ErrSearch) && strings.Contains(err.Error(), "scope") {
					return nil, rpc.Errorf(rpc.CodeMisc, "Unknown <scope> value")
				}
				return nil, rpc.Errorf(rpc.CodeMisc, "%v", err)
			}
			return res, nil
		})
	n.method("peekpost", "peekpost <username> <k> [field='*'] [timeout_sec=90]", "Peek post from local torrent, DHT or a peer", 2, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			k, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			field, err := p.StringOr(2, "*")
			if err != nil {
				return nil, err
			}
			secs, err := p.IntOr(3, 90)
			if err != nil {
				return nil, err
			}
			v, err := n.peek(ctx, user, k, time.Duration(min(max(secs, 1), 300))*time.Second)
			if err != nil {
				return nil, err
			}
			if field == "*" {
				return post.PostToJSON(v), nil
			}
			up, _ := v.GetDict("userpost")
			f, ok := up.Get(field)
			if !ok {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "post has no field %q", field)
			}
			return post.ToJSON(f), nil
		})
	n.method("newshorturl", "newshorturl <username> <k> <url> [mimetype]", "Shorten URL using twister", 3, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, k, key, err := n.userKey(p)
			if err != nil {
				return nil, err
			}
			url, err := p.String(2)
			if err != nil {
				return nil, err
			}
			mime, err := p.StringOr(3, "")
			if err != nil {
				return nil, err
			}
			uid, err := n.Chain.UsernameToTxNum(user)
			if err != nil || uid > 0xffffffff || k > 0xffffffff {
				return nil, rpc.Errorf(rpc.CodeInternal, "user %s is not registered", user)
			}
			fields := map[string]bencode.Value{"url": bencode.NewString(url)}
			if mime != "" {
				fields["mimetype"] = bencode.NewString(mime)
			}
			raw, err := post.NewCustom(key, user, k, n.now(), n.postHeight(), n.lastPublic(user, k), fields)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			if _, err := n.publish(user, k, raw, true); err != nil {
				return nil, err
			}
			var b [8]byte
			binary.LittleEndian.PutUint32(b[:4], uint32(uid))
			binary.LittleEndian.PutUint32(b[4:], uint32(k))
			return []string{"twist:" + base64.StdEncoding.EncodeToString(b[:])}, nil
		})
	n.method("decodeshorturl", "decodeshorturl <twist:xxx> [timeout_sec=90]", "Decodes a shortened URL by twister", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			s, err := p.String(0)
			if err != nil {
				return nil, err
			}
			secs, err := p.IntOr(1, 90)
			if err != nil {
				return nil, err
			}
			if !strings.HasPrefix(s, "twist:") {
				return nil, rpc.Errorf(rpc.CodeParse, "protocol prefix error")
			}
			b, err := base64.StdEncoding.DecodeString(s[len("twist:"):])
			if err != nil || len(b) != 8 {
				return nil, rpc.Errorf(rpc.CodeParse, "base64 decode error")
			}
			uid := binary.LittleEndian.Uint32(b[:4])
			k := int64(binary.LittleEndian.Uint32(b[4:]))
			user, err := n.Chain.TxNumToUsername(uint64(uid))
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "TxNumToUsername failed")
			}
			v, err := n.peek(ctx, user, k, time.Duration(min(max(secs, 1), 300))*time.Second)
			if err != nil {
				return nil, err
			}
			up, _ := v.GetDict("userpost")
			url, _ := up.GetString("url")
			mime, _ := up.GetString("mimetype")
			if url == "" {
				return nil, rpc.Errorf(rpc.CodeInternal, "post has no url")
			}
			return []string{url, mime}, nil
		})
	n.method("torrentstatus", "torrentstatus <username>", "report torrent status", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			followed := false
			for _, u := range n.net.Swarm.Following() {
				followed = followed || u == user
			}
			if !followed {
				return nil, nil
			}
			peers := n.net.Swarm.Peers(user)
			list := []map[string]any{}
			for _, pi := range peers {
				list = append(list, map[string]any{"addr": pi.Addr, "client": pi.Client, "outgoing": pi.Outgoing, "pieces": pi.Pieces})
			}
			return map[string]any{"state": 3, "paused": false, "auto_managed": false, "num_peers": len(peers),
				"list_peers": len(peers), "num_pieces": n.net.Swarm.NumPieces(user), "last_have": n.net.Swarm.LastHave(user), "peers": list}, nil
		})
	n.method("getpieceavailability", "getpieceavailability <username> <k>", "Get piece availability (peer count for this piece)", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			if _, err := p.Int(1); err != nil {
				return nil, err
			}
			return len(n.net.Swarm.Peers(user)), nil
		})
	n.method("getpiecemaxseen", "getpiecemaxseen <username> <k>", "Get piece max seen availability", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			k, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			if _, ok := n.net.Swarm.Post(user, k); ok {
				return 1 + len(n.net.Swarm.Peers(user)), nil
			}
			return 0, nil
		})
	n.registerDHTMethods()
	n.registerGroupMethods()
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func checkText(msg string) error {
	c, err := text.CodePoints(msg)
	if err != nil {
		return rpc.Errorf(rpc.CodeInvalidParam, "message is not valid UTF-8")
	}
	if c > text.MaxMsgChars {
		return rpc.Errorf(rpc.CodeInvalidParam, "message too long: %d characters (at most %d)", c, text.MaxMsgChars)
	}
	return nil
}

// userKey reads <username> <k> and the user's key, checking k is free.
func (n *Node) userKey(p rpc.Params) (string, int64, *keys.PrivateKey, error) {
	user, err := p.String(0)
	if err != nil {
		return "", 0, nil, err
	}
	k, err := p.Int(1)
	if err != nil {
		return "", 0, nil, err
	}
	key, err := n.signingKey(user)
	if err != nil {
		return "", 0, nil, err
	}
	if err := n.checkNewK(user, k); err != nil {
		return "", 0, nil, err
	}
	return user, k, key, nil
}

// originalParam reads a {userpost, sig_userpost} object and checks it is a
// genuine post (twisterd crashes on an object without userpost).
func (n *Node) originalParam(p rpc.Params, i int, name string) (post.Original, error) {
	obj, err := p.Object(i)
	if err != nil {
		return post.Original{}, err
	}
	v, err := post.PostFromJSON(obj)
	if err != nil {
		return post.Original{}, rpc.Errorf(rpc.CodeInvalidParam, "%s is not a post: %v", name, err)
	}
	raw := bencode.Encode(v)
	orig, err := post.OriginalOf(raw)
	if err != nil {
		return post.Original{}, rpc.Errorf(rpc.CodeInvalidParam, "%s must be a post object {userpost, sig_userpost}: %v", name, err)
	}
	pp, err := post.Decode(raw)
	if err != nil {
		return post.Original{}, rpc.Errorf(rpc.CodeInvalidParam, "%s: %v", name, err)
	}
	if err := pp.Check(pp.User, pp.K, n.Chain); err != nil {
		return post.Original{}, rpc.Errorf(rpc.CodeInvalidParam, "%s does not verify: %v", name, err)
	}
	return orig, nil
}

func (n *Node) recipientKey(to string) (keys.PubKey, error) {
	if strings.HasPrefix(to, "*") {
		k, err := n.Wallet.Key(to)
		if err != nil {
			return nil, rpc.Errorf(rpc.CodeInternal, "unknown group alias")
		}
		return k.PubKey(), nil
	}
	if k, err := n.Chain.KeyAt(to, -1); err == nil {
		return k, nil
	}
	if k, err := n.Wallet.Key(to); err == nil {
		return k.PubKey(), nil
	}
	return nil, rpc.Errorf(rpc.CodeInternal, "error encrypting to pubkey of destination user")
}

func (n *Node) localAndUsers(p rpc.Params) (string, []string, error) {
	local, err := p.String(0)
	if err != nil {
		return "", nil, err
	}
	users, err := p.StringArray(1)
	if err != nil {
		return "", nil, err
	}
	if !n.Wallet.Has(local) {
		return "", nil, rpc.Errorf(rpc.CodeWalletError, "Error: local user %s is not in the wallet", local)
	}
	for _, u := range users {
		if err := text.ValidUsername(u); err != nil {
			return "", nil, rpc.Errorf(rpc.CodeInvalidParam, "invalid username %q: %v", u, err)
		}
	}
	return local, users, nil
}

func (n *Node) followedOrGiven(p rpc.Params) ([]string, error) {
	local, err := p.String(0)
	if err != nil {
		return nil, err
	}
	if p.Has(1) {
		return p.StringArray(1)
	}
	if strings.HasPrefix(local, "*") {
		g, ok := n.Wallet.Group(local)
		if !ok {
			return []string{}, nil
		}
		return g.Members, nil
	}
	return n.net.follows.get(local), nil
}

func optID(p rpc.Params, i int) (*int64, error) {
	if !p.Has(i) {
		return nil, nil
	}
	v, err := p.Int(i)
	if err != nil {
		return nil, err
	}
	if v < 0 {
		return nil, nil
	}
	return &v, nil
}

func userRanges(p rpc.Params, i int) ([]timeline.UserRange, error) {
	arr, err := p.Array(i)
	if err != nil {
		return nil, err
	}
	var out []timeline.UserRange
	for _, e := range arr {
		o, ok := e.(map[string]any)
		if !ok {
			return nil, rpc.Errorf(rpc.CodeMisc, "value is type %s, expected obj", jsonType(e))
		}
		name, err := rpc.AsString(o["username"])
		if err != nil {
			return nil, rpc.Errorf(rpc.CodeInvalidParam, "each entry needs a username: %v", err.(*rpc.Error).Message)
		}
		r := timeline.UserRange{User: name}
		for key, dst := range map[string]**int64{"max_id": &r.MaxID, "since_id": &r.SinceID} {
			if v, ok := o[key]; ok && v != nil {
				x, err := rpc.AsInt(v)
				if err != nil {
					return nil, err
				}
				if x >= 0 || key == "since_id" {
					*dst = &x
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case []any:
		return "array"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "int"
}

func localCountRange(p rpc.Params) (string, int, *int64, *int64, error) {
	local, err := p.String(0)
	if err != nil {
		return "", 0, nil, nil, err
	}
	count, err := p.Int(1)
	if err != nil {
		return "", 0, nil, nil, err
	}
	var maxID, sinceID *int64
	if p.Has(2) {
		o, err := p.Object(2)
		if err != nil {
			return "", 0, nil, nil, err
		}
		if v, ok := o["max_id"]; ok {
			x, err := rpc.AsInt(v)
			if err != nil {
				return "", 0, nil, nil, err
			}
			if x >= 0 {
				maxID = &x
			}
		}
		if v, ok := o["since_id"]; ok {
			x, err := rpc.AsInt(v)
			if err != nil {
				return "", 0, nil, nil, err
			}
			if x >= 0 {
				sinceID = &x
			}
		}
	}
	return local, int(max(count, 0)), maxID, sinceID, nil
}

// dispatchMentionsOnly writes mention and hashtag resources of a post that
// is not itself published in the DHT (a public favourite's comment).
func (n *Node) dispatchMentionsOnly(user string, p *post.Post) {
	key, err := n.Wallet.Key(user)
	if err != nil {
		return
	}
	go func() {
		for _, m := range p.Mentions() {
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			n.net.DHT.Put(ctx, key, user, m, resource.Mention, true, p.Value, 0, p.Height)
			cancel()
		}
		for _, h := range p.Hashtags() {
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			n.net.DHT.Put(ctx, key, user, h, resource.Hashtag, true, p.Value, 0, p.Height)
			cancel()
		}
	}()
}

// peek finds post k of user: our swarms, then the DHT's post<k>.
func (n *Node) peek(ctx context.Context, user string, k int64, timeout time.Duration) (bencode.Value, error) {
	if data, ok := n.net.Swarm.Post(user, k); ok {
		if v, err := bencode.Decode(data); err == nil {
			return v, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	items, err := n.net.DHT.Get(ctx, user, resource.Post(k), false, dht.GetOptions{Timeout: timeout})
	if err == nil {
		for _, it := range items {
			raw := bencode.Encode(it.V)
			if _, verr := post.Validate(raw, user, k, n.Chain); verr == nil {
				return it.V, nil
			}
		}
	}
	return bencode.Value{}, rpc.Errorf(rpc.CodeTimeout, "timeout or post not found")
}

// publishFollowing writes the public following list of local to the DHT
// (following1, following2, … of at most 200 names; an empty page ends it).
func (n *Node) publishFollowing(local string) {
	key, err := n.Wallet.Key(local)
	if err != nil {
		return
	}
	list := n.net.follows.get(local)
	n.mu.Lock()
	if n.followSeq == nil {
		n.followSeq = map[string]int64{}
	}
	seq := max(n.followSeq[local]+1, time.Now().Unix())
	n.followSeq[local] = seq
	n.mu.Unlock()
	height := n.postHeight()
	go func() {
		put := func(page int, names []string) {
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			n.net.DHT.Put(ctx, key, local, local, resource.Following(page), false, bencode.MustFrom(append([]string{}, names...)), seq, height)
			cancel()
		}
		page := 1
		for ; ; page++ {
			lo := (page - 1) * 200
			var names []string
			if lo < len(list) {
				names = list[lo:min(lo+200, len(list))]
			}
			put(page, names)
			if len(names) < 200 || page >= 50 {
				break
			}
		}
		// Pages a longer list filled before are emptied, so that no reader
		// finds names unfollowed since (the list ends at a short page, but
		// not every reader stops there).
		for page++; page <= 50; page++ {
			ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
			items, _ := n.net.DHT.Get(ctx, local, resource.Following(page), false, dht.GetOptions{})
			cancel()
			if len(items) == 0 || (items[0].V.Kind == bencode.List && len(items[0].V.List) == 0) {
				return
			}
			put(page, nil)
		}
	}()
}

// cachedProfiles serves the profiles this node has seen to search.
func (n *Node) cachedProfiles(yield func(string, map[string]any) bool) {
	n.mu.Lock()
	snapshot := make(map[string]map[string]any, len(n.profiles))
	for u, p := range n.profiles {
		snapshot[u] = p
	}
	n.mu.Unlock()
	for u, p := range snapshot {
		if !yield(u, p) {
			return
		}
	}
}

func (n *Node) onGroupInvite(gi timeline.GroupInvite) string {
	if gi.Key == nil {
		return ""
	}
	if strings.HasPrefix(gi.Local, "*") {
		// a description change sent to the group key
		g, ok := n.Wallet.Group(gi.Local)
		if ok {
			n.Wallet.SetGroup(gi.Local, nil, gi.Desc, g.Members)
		}
		return gi.Local
	}
	for _, alias := range n.Wallet.Groups() {
		if k, err := n.Wallet.Key(alias); err == nil && k.PubKey().Equal(gi.Key.PubKey()) {
			g, _ := n.Wallet.Group(alias)
			n.Wallet.SetGroup(alias, nil, gi.Desc, addMember(g.Members, gi.Local))
			return alias
		}
	}
	alias := randomAlias()
	n.Wallet.SetGroup(alias, gi.Key, gi.Desc, []string{gi.Local})
	return alias
}

func (n *Node) onGroupMembers(gm timeline.GroupMembers) []string {
	g, ok := n.Wallet.Group(gm.Alias)
	if !ok {
		return nil
	}
	var added []string
	members := g.Members
	for _, m := range gm.Members {
		before := len(members)
		members = addMember(members, m)
		if len(members) > before {
			added = append(added, m)
		}
	}
	if len(added) > 0 {
		n.Wallet.SetGroup(gm.Alias, nil, g.Description, members)
	}
	return added
}

func addMember(list []string, m string) []string {
	for _, x := range list {
		if x == m {
			return list
		}
	}
	return append(append([]string{}, list...), m)
}

// randomAlias is "*" and 8 random lowercase letters, as twisterd makes.
func randomAlias() string {
	b := []byte("*")
	for i := 0; i < 8; i++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(26))
		b = append(b, byte('a'+x.Int64()))
	}
	return string(b)
}

// scanMentions indexes the held posts of users that mention local.
func (n *Node) scanMentions(local string, users []string) {
	for _, u := range users {
		ks, _ := n.net.Posts.List(u)
		for _, k := range ks {
			data, ok, _ := n.net.Posts.Get(u, k)
			if !ok {
				continue
			}
			p, err := post.Decode(data)
			if err != nil {
				continue
			}
			if contains(p.Mentions(), local) {
				n.net.Index.AddMention(local, data)
			}
		}
	}
}

// fetchMentions reads the DHT "mention" resource of every local user and
// indexes the genuine posts of users they follow (as twisterd's getmentions
// lists them).
func (n *Node) fetchMentions(ctx context.Context) {
	for _, local := range n.Wallet.Users() {
		if !n.Chain.UserExists(local) {
			continue
		}
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		items, _ := n.net.DHT.Get(gctx, local, resource.Mention, true, dht.GetOptions{MinMulti: 32, Timeout: 10 * time.Second})
		cancel()
		for _, it := range items {
			raw := bencode.Encode(it.V)
			p, err := post.Decode(raw)
			if err != nil || !n.net.follows.has(local, p.User) {
				continue
			}
			if _, err := post.Validate(raw, p.User, p.K, n.Chain); err != nil {
				continue
			}
			n.net.Index.AddMention(local, raw)
		}
	}
}
