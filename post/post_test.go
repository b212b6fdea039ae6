package post

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

// testChain is a Chain over fixed keys: every user registered at reg.
type testChain struct {
	keys.StaticResolver
	tip int64
	reg map[string]int64
}

func (c testChain) Height() int64 { return c.tip }

func (c testChain) RegistrationHeight(user string) (int64, error) {
	h, ok := c.reg[user]
	if !ok {
		return 0, keys.ErrUnknownUser
	}
	return h, nil
}

func testKey(t testing.TB, user string) *keys.PrivateKey {
	t.Helper()
	v := vectors.Verified()
	b, err := hex.DecodeString(vectors.Str(v, "_about", "keys", user, "priv_hex"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.PrivateKeyFromBytes(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if k.PubKey().Hex() != vectors.Str(v, "_about", "keys", user, "pubkey") {
		t.Fatalf("key of %s does not match its pubkey", user)
	}
	return k
}

// chain returns the regtest situation of the vectors: gotest and gotest2
// registered at height 1, tip 101 (posts carry height 100).
func chain(t testing.TB) testChain {
	return testChain{
		StaticResolver: keys.StaticResolver{
			"gotest":  {{Height: 1, Key: testKey(t, "gotest").PubKey()}},
			"gotest2": {{Height: 1, Key: testKey(t, "gotest2").PubKey()}},
		},
		tip: 101,
		reg: map[string]int64{"gotest": 1, "gotest2": 1},
	}
}

func daemon(name, field string) []byte {
	return vectors.Hex(vectors.Verified(), "daemon_posts", name, field)
}

func i64(n int64) *int64 { return &n }

func TestDaemonPosts(t *testing.T) {
	c := chain(t)
	v := vectors.Verified()
	type want struct {
		user      string
		k         int64
		flags     Flags
		msg       string
		hasMsg2   bool
		lastk     *int64
		reply     *Ref
		rt, fav   bool
		wort      bool
		mentions  []string
		hashtags  []string
		openWith  string // key that opens dm/pfav
		plaintext string // its parsed text (DMs)
	}
	cases := map[string]want{
		"d_post_k2": {user: "gotest", k: 2, msg: "hello from twisterd #twistertest @gotest2", lastk: i64(1),
			mentions: []string{"gotest2"}, hashtags: []string{"twistertest"}},
		"d_reply_k3": {user: "gotest", k: 3, msg: "@gotest2 this is a reply", lastk: i64(2),
			reply: &Ref{User: "gotest2", K: 2}, mentions: []string{"gotest2"}},
		"d_rt_k4":  {user: "gotest", k: 4, flags: FlagRT, hasMsg2: true, lastk: i64(3), rt: true},
		"d_rtc_k5": {user: "gotest", k: 5, flags: FlagRT, msg: "commented RT", lastk: i64(4), rt: true, wort: true},
		"d_fav_k6": {user: "gotest", k: 6, flags: FlagFav, hasMsg2: true, fav: true},
		"d_pfav_k7": {user: "gotest", k: 7, flags: FlagPFav, hasMsg2: true, openWith: "gotest",
			plaintext: "private fav comment"},
		"d_dm_k8": {user: "gotest", k: 8, flags: FlagDM, hasMsg2: true, openWith: "gotest2",
			plaintext: "secret hi gotest2"},
		"d_dm_copyself_k9_10": {user: "gotest", k: 10, flags: FlagDM, hasMsg2: true, openWith: "gotest",
			plaintext: "dm with copy to self"},
		"d_post_gotest2_k2": {user: "gotest2", k: 2, msg: "first public post by gotest2 #twistertest",
			hashtags: []string{"twistertest"}},
	}
	dp, _ := vectors.Path(v, "daemon_posts").(map[string]any)
	if len(dp) != len(cases) {
		t.Errorf("the vectors hold %d daemon posts, the test knows %d", len(dp), len(cases))
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			raw := daemon(name, "post_bencoded_hex")
			upRaw := daemon(name, "userpost_bencoded_hex")
			if got := vectors.Str(v, "daemon_posts", name, "rpc_json", "userpost", "n"); got != w.user {
				t.Fatalf("vector author %q, test expects %q", got, w.user)
			}
			p, err := Validate(raw, w.user, w.k, c)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Exact bytes, kept and re-encoded.
			if !bytes.Equal(p.Raw, raw) || !bytes.Equal(bencode.Encode(p.Value), raw) {
				t.Errorf("post does not re-encode to the daemon's bytes")
			}
			if !bytes.Equal(p.Userpost.Raw, upRaw) || !bytes.Equal(bencode.Encode(p.Userpost), upRaw) {
				t.Errorf("userpost bytes differ from the daemon's")
			}
			// Rebuilt from the decoded fields, the userpost is byte-identical.
			up, err := p.Draft().Userpost()
			if err != nil {
				t.Fatalf("Draft().Userpost: %v", err)
			}
			if got := bencode.Encode(up); !bytes.Equal(got, upRaw) {
				t.Errorf("rebuilt userpost\n got %q\nwant %q", got, upRaw)
			}
			sig := vectors.Hex(v, "daemon_posts", name, "rpc_json", "sig_userpost")
			if !bytes.Equal(p.SigUserpost, sig) {
				t.Errorf("sig_userpost differs")
			}
			// Fields.
			if p.User != w.user || p.K != w.k || p.Height != 100 || !p.HasTime || p.Time < 1795319392 {
				t.Errorf("header n=%q k=%d height=%d time=%d/%v", p.User, p.K, p.Height, p.Time, p.HasTime)
			}
			if p.Flags != w.flags {
				t.Errorf("flags %#x, want %#x", p.Flags, w.flags)
			}
			if p.Msg != w.msg || p.HasMsg2 != w.hasMsg2 || p.Msg2 != "" || p.Text() != w.msg {
				t.Errorf("msg %q msg2 %q/%v", p.Msg, p.Msg2, p.HasMsg2)
			}
			if fmt.Sprint(deref(p.LastK)) != fmt.Sprint(deref(w.lastk)) {
				t.Errorf("lastk %v, want %v", deref(p.LastK), deref(w.lastk))
			}
			if fmt.Sprint(p.Reply) != fmt.Sprint(w.reply) {
				t.Errorf("reply %v, want %v", p.Reply, w.reply)
			}
			if fmt.Sprint(p.Mentions()) != fmt.Sprint(w.mentions) || fmt.Sprint(p.Hashtags()) != fmt.Sprint(w.hashtags) {
				t.Errorf("mentions %q hashtags %q", p.Mentions(), p.Hashtags())
			}
			if len(p.CustomFields()) != 0 {
				t.Errorf("custom fields %v", p.CustomFields())
			}
			orig := daemon("d_post_gotest2_k2", "userpost_bencoded_hex")
			origSig := vectors.Hex(v, "daemon_posts", "d_post_gotest2_k2", "rpc_json", "sig_userpost")
			for _, e := range []struct {
				got  *Embedded
				want bool
			}{{p.RT, w.rt}, {p.Fav, w.fav}} {
				if (e.got != nil) != e.want {
					t.Fatalf("embedded present %v, want %v", e.got != nil, e.want)
				}
				if e.got == nil {
					continue
				}
				if !bytes.Equal(e.got.Userpost.Raw, orig) || !bytes.Equal(e.got.Sig, origSig) {
					t.Errorf("embedded post is not gotest2's k2")
				}
				if e.got.User != "gotest2" || e.got.K != 2 || e.got.Height != 100 ||
					e.got.Text() != "first public post by gotest2 #twistertest" {
					t.Errorf("embedded fields %+v", e.got)
				}
				if err := keys.VerifyUser(c, e.got.User, e.got.Height, e.got.Userpost.Raw, e.got.Sig); err != nil {
					t.Errorf("embedded signature: %v", err)
				}
			}
			if w.wort {
				wort := daemon(name, "wort_bencoded_hex")
				if !bytes.Equal(p.Wort(), wort) {
					t.Errorf("wort\n got %q\nwant %q", p.Wort(), wort)
				}
				if !bytes.Equal(p.SigWort, vectors.Hex(v, "daemon_posts", name, "rpc_json", "sig_wort")) {
					t.Errorf("sig_wort differs")
				}
				if err := keys.VerifyUser(c, "gotest", 100, wort, p.SigWort); err != nil {
					t.Errorf("sig_wort: %v", err)
				}
				co, err := p.CommentOriginal()
				if err != nil || !bytes.Equal(bencode.Encode(co.Userpost), wort) {
					t.Errorf("CommentOriginal: %v", err)
				}
			} else if p.SigWort != nil {
				t.Errorf("unexpected sig_wort")
			}
			switch {
			case p.DM != nil:
				pt, err := p.OpenDM(testKey(t, w.openWith))
				if err != nil || pt.Kind != dm.KindMessage || pt.Text != w.plaintext || pt.To != "gotest2" {
					t.Errorf("OpenDM: %+v, %v", pt, err)
				}
				other := map[string]string{"gotest": "gotest2", "gotest2": "gotest"}[w.openWith]
				if _, err := p.OpenDM(testKey(t, other)); !errors.Is(err, dm.ErrMAC) {
					t.Errorf("OpenDM with %s: %v, want dm.ErrMAC", other, err)
				}
			case p.PFav != nil:
				f, err := p.OpenPrivateFav(testKey(t, w.openWith))
				if err != nil || f.Comment != w.plaintext || !bytes.Equal(f.Userpost.Raw, orig) || !bytes.Equal(f.SigUserpost, origSig) {
					t.Errorf("OpenPrivateFav: %+v, %v", f, err)
				}
			case w.openWith != "":
				t.Errorf("expected a sealed message")
			}
			// The same fields signed by us give a post that validates too.
			own, err := p.Draft().Sign(testKey(t, w.user))
			if err != nil {
				t.Fatalf("re-sign: %v", err)
			}
			q, err := Validate(own, w.user, w.k, c)
			if err != nil {
				t.Fatalf("re-signed post: %v", err)
			}
			if !bytes.Equal(q.Userpost.Raw, upRaw) {
				t.Errorf("re-signed userpost differs")
			}
			if (q.SigWort != nil) != w.wort {
				t.Errorf("re-signed sig_wort present %v", q.SigWort != nil)
			}
		})
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestDerivedPost(t *testing.T) {
	d := vectors.Derived()
	get := func(k string) string { return vectors.Str(d, "derived_by_spec", "post", k) }
	raw := vectors.Hex(d, "derived_by_spec", "post", "post_bencoded_hex")
	if int64(len(raw)) != vectors.Int(d, "derived_by_spec", "post", "post_len") {
		t.Fatalf("post_len mismatch")
	}
	c := chain(t)
	p, err := Validate(raw, "gotest", vectors.Int(d, "derived_by_spec", "post", "torrent_piece_index"), c)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Userpost.Raw) != get("userpost_bencoded") {
		t.Errorf("userpost %q", p.Userpost.Raw)
	}
	if hex.EncodeToString(p.SigUserpost) != get("sig_userpost_hex") {
		t.Errorf("signature differs")
	}
	if h := keys.MagicHash(p.Userpost.Raw); hex.EncodeToString(h[:]) != get("digest_raw") {
		t.Errorf("digest %x", h)
	}
	// Our builder, given the same fields, writes the same userpost; with the
	// vector's signature that is the vector's post, byte for byte.
	dr := Draft{User: "gotest", K: 1, Time: 1400000000, Height: 100, Text: "hello world"}
	up, err := dr.Userpost()
	if err != nil {
		t.Fatal(err)
	}
	if string(bencode.Encode(up)) != get("userpost_bencoded") {
		t.Errorf("builder userpost %q", bencode.Encode(up))
	}
	whole := bencode.NewDict()
	whole.Set("sig_userpost", bencode.NewBytes(p.SigUserpost))
	whole.Set("userpost", up)
	if !bytes.Equal(bencode.Encode(whole), raw) {
		t.Errorf("assembled post differs from the vector")
	}
	// Signing it ourselves gives a different (deterministic RFC 6979)
	// signature over the same bytes, which validates too.
	own, err := NewPost(testKey(t, "gotest"), "gotest", 1, 1400000000, 100, "hello world", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Validate(own, "gotest", 1, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Userpost.Raw, p.Userpost.Raw) || len(own) != len(raw) {
		t.Errorf("own post differs in its userpost or length")
	}
}

// sign wraps raw userpost bytes (whatever they are) into a post signed by k.
func sign(k *keys.PrivateKey, upRaw []byte) []byte {
	sig := k.Sign(upRaw)
	var b bytes.Buffer
	fmt.Fprintf(&b, "d12:sig_userpost%d:%s8:userpost%se", len(sig), sig, upRaw)
	return b.Bytes()
}

func TestOwnPostsOfEveryKind(t *testing.T) {
	c := chain(t)
	me, other := testKey(t, "gotest"), testKey(t, "gotest2")
	orig, err := OriginalOf(daemon("d_post_gotest2_k2", "post_bencoded_hex"))
	if err != nil {
		t.Fatal(err)
	}
	group, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 141) + " #long"
	type built struct {
		name  string
		data  []byte
		err   error
		flags Flags
		check func(t *testing.T, p *Post)
	}
	mk := func(name string, flags Flags, check func(*testing.T, *Post), f func() ([]byte, error)) built {
		b, err := f()
		return built{name, b, err, flags, check}
	}
	const T = 1795319400
	cases := []built{
		mk("post", 0, func(t *testing.T, p *Post) {
			if p.Msg != "hi @gotest2 #go" || p.HasMsg2 || p.LastK != nil {
				t.Errorf("%+v", p)
			}
		}, func() ([]byte, error) { return NewPost(me, "gotest", 1, T, 100, "hi @gotest2 #go", nil, nil) }),
		mk("long post", 0, func(t *testing.T, p *Post) {
			if len([]rune(p.Msg)) != 140 || p.Msg2 != "é #long" || p.Text() != long || *p.LastK != 1 {
				t.Errorf("msg %q msg2 %q", p.Msg, p.Msg2)
			}
			if fmt.Sprint(p.Hashtags()) != "[long]" {
				t.Errorf("hashtags of msg2 lost: %q", p.Hashtags())
			}
		}, func() ([]byte, error) { return NewPost(me, "gotest", 2, T, 100, long, i64(1), nil) }),
		mk("reply", 0, func(t *testing.T, p *Post) {
			if p.Reply == nil || *p.Reply != (Ref{"gotest2", 2}) {
				t.Errorf("reply %v", p.Reply)
			}
		}, func() ([]byte, error) {
			return NewPost(me, "gotest", 3, T, 100, "@gotest2 yes", i64(2), &Ref{User: "gotest2", K: 2})
		}),
		mk("retwist", FlagRT, func(t *testing.T, p *Post) {
			if p.SigWort != nil || !p.HasMsg2 || p.Msg != "" || p.RT.User != "gotest2" {
				t.Errorf("%+v", p)
			}
		}, func() ([]byte, error) { return NewRetwist(me, "gotest", 4, T, 100, orig, "", i64(3)) }),
		mk("commented retwist", FlagRT, func(t *testing.T, p *Post) {
			if p.SigWort == nil || p.Msg != "so true @gotest2" {
				t.Errorf("%+v", p)
			}
			co, err := p.CommentOriginal()
			if err != nil {
				t.Fatal(err)
			}
			// The comment can itself be retwisted.
			b, err := NewRetwist(other, "gotest2", 3, T, 100, co, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Validate(b, "gotest2", 3, c); err != nil {
				t.Errorf("retwist of the comment: %v", err)
			}
		}, func() ([]byte, error) { return NewRetwist(me, "gotest", 5, T, 100, orig, "so true @gotest2", i64(4)) }),
		mk("fav", FlagFav, func(t *testing.T, p *Post) {
			if p.Fav.User != "gotest2" || p.LastK != nil || p.Msg != "" {
				t.Errorf("%+v", p)
			}
		}, func() ([]byte, error) { return NewFav(me, "gotest", 6, T, 100, orig, "") }),
		mk("fav with comment", FlagFav, func(t *testing.T, p *Post) {
			if p.Msg != "nice #fav" || p.HasMsg2 || fmt.Sprint(p.Hashtags()) != "[fav]" {
				t.Errorf("%+v", p)
			}
		}, func() ([]byte, error) { return NewFav(me, "gotest", 7, T, 100, orig, "nice #fav") }),
		mk("private fav", FlagPFav, func(t *testing.T, p *Post) {
			f, err := p.OpenPrivateFav(me)
			if err != nil || f.Comment != "secret #note" || !bytes.Equal(f.Userpost.Raw, orig.Userpost.Raw) {
				t.Errorf("%+v %v", f, err)
			}
			if p.Hashtags() != nil || p.Msg != "" || !p.HasMsg2 || p.LastK != nil {
				t.Errorf("private fav leaks text: %+v", p)
			}
		}, func() ([]byte, error) { return NewPrivateFav(me, "gotest", 8, T, 100, orig, "secret #note") }),
		mk("dm", FlagDM, func(t *testing.T, p *Post) {
			pt, err := p.OpenDM(other)
			if err != nil || pt.Kind != dm.KindMessage || pt.Text != "psst @gotest2" || pt.To != "gotest2" {
				t.Errorf("%+v %v", pt, err)
			}
			if p.Mentions() != nil || p.LastK != nil {
				t.Errorf("dm leaks: %+v", p)
			}
		}, func() ([]byte, error) {
			return NewDM(me, "gotest", 9, T, 100, other.PubKey(), "gotest2", "psst @gotest2")
		}),
		mk("dm copy to self", FlagDM, func(t *testing.T, p *Post) {
			pt, err := p.OpenDM(me)
			if err != nil || pt.Text != "psst @gotest2" || pt.To != "gotest2" {
				t.Errorf("%+v %v", pt, err)
			}
		}, func() ([]byte, error) {
			return NewDM(me, "gotest", 10, T, 100, me.PubKey(), "gotest2", "psst @gotest2")
		}),
		mk("group message", FlagDM, func(t *testing.T, p *Post) {
			pt, err := p.OpenDM(group)
			if err != nil || pt.Text != "hello group" || pt.To != "*abcdefgh" {
				t.Errorf("%+v %v", pt, err)
			}
		}, func() ([]byte, error) {
			return NewDM(me, "gotest", 11, T, 100, group.PubKey(), "*abcdefgh", "hello group")
		}),
		mk("group invite", FlagDM, func(t *testing.T, p *Post) {
			pt, err := p.OpenDM(other)
			if err != nil || pt.Kind != dm.KindGroupInvite || pt.Invite.Key != group.Secret() {
				t.Errorf("%+v %v", pt, err)
			}
		}, func() ([]byte, error) {
			s, err := dm.Encrypt(other.PubKey(), dm.GroupInvite{Desc: "club", Key: group.Secret()}.Encode())
			if err != nil {
				return nil, err
			}
			return NewSealedDM(me, "gotest", 12, T, 100, s)
		}),
		mk("group members", FlagDM, func(t *testing.T, p *Post) {
			pt, err := p.OpenDM(group)
			if err != nil || pt.Kind != dm.KindGroupMembers || fmt.Sprint(pt.Members) != "[gotest gotest2]" {
				t.Errorf("%+v %v", pt, err)
			}
		}, func() ([]byte, error) {
			s, err := dm.Encrypt(group.PubKey(), dm.GroupMembers{"gotest", "gotest2"}.Encode())
			if err != nil {
				return nil, err
			}
			return NewSealedDM(me, "gotest", 13, T, 100, s)
		}),
		mk("custom", 0, func(t *testing.T, p *Post) {
			if u, _ := p.Field("url"); string(u.Str) != "https://example.com/" {
				t.Errorf("url %v", u)
			}
			cf := p.CustomFields()
			if len(cf) != 3 || cf[0].Key != "count" || cf[1].Key != "mimetype" || cf[2].Key != "url" {
				t.Errorf("custom fields %v", cf)
			}
			if p.Msg != "" || !p.HasMsg2 || *p.LastK != 13 {
				t.Errorf("%+v", p)
			}
		}, func() ([]byte, error) {
			return NewCustom(me, "gotest", 14, T, 100, i64(13), map[string]bencode.Value{
				"url": bencode.NewString("https://example.com/"), "mimetype": bencode.NewString("text/html"),
				"count": bencode.NewInt(3),
			})
		}),
	}
	for _, b := range cases {
		t.Run(b.name, func(t *testing.T) {
			if b.err != nil {
				t.Fatalf("build: %v", b.err)
			}
			p, err := Decode(b.data)
			if err != nil {
				t.Fatal(err)
			}
			p, err = Validate(b.data, "gotest", p.K, c)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if p.Flags != b.flags || p.Time != T || p.Height != 100 {
				t.Errorf("flags %#x time %d height %d", p.Flags, p.Time, p.Height)
			}
			if !bytes.Equal(bencode.Encode(p.Value), b.data) {
				t.Errorf("not canonical")
			}
			up, err := p.Draft().Userpost()
			if err != nil || !bytes.Equal(bencode.Encode(up), p.Userpost.Raw) {
				t.Errorf("Draft round trip: %v", err)
			}
			b.check(t, p)
		})
	}
}

func TestBuilderRules(t *testing.T) {
	me := testKey(t, "gotest")
	orig, err := OriginalOf(daemon("d_post_gotest2_k2", "post_bencoded_hex"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := dm.Encrypt(me.PubKey(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 1900)
	cases := []struct {
		name string
		f    func() ([]byte, error)
		want error
	}{
		{"bad username", func() ([]byte, error) { return NewPost(me, "GoTest", 1, 1, 1, "x", nil, nil) }, ErrInvalidDraft},
		{"negative k", func() ([]byte, error) { return NewPost(me, "gotest", -1, 1, 1, "x", nil, nil) }, ErrInvalidDraft},
		{"negative height", func() ([]byte, error) { return NewPost(me, "gotest", 1, 1, -1, "x", nil, nil) }, ErrInvalidDraft},
		{"negative lastk", func() ([]byte, error) { return NewPost(me, "gotest", 1, 1, 1, "x", i64(-1), nil) }, ErrInvalidDraft},
		{"invalid UTF-8", func() ([]byte, error) { return NewPost(me, "gotest", 1, 1, 1, "a\xffb", nil, nil) }, ErrBadUTF8},
		{"too big", func() ([]byte, error) { return NewPost(me, "gotest", 1, 1, 1, big, nil, nil) }, ErrTooBig},
		{"bad reply user", func() ([]byte, error) { return NewPost(me, "gotest", 1, 1, 1, "x", nil, &Ref{User: "A"}) }, ErrInvalidDraft},
		{"no key", func() ([]byte, error) { return NewPost(nil, "gotest", 1, 1, 1, "x", nil, nil) }, ErrInvalidDraft},
		{"reserved custom field", func() ([]byte, error) {
			return NewCustom(me, "gotest", 1, 1, 1, nil, map[string]bencode.Value{"msg": bencode.NewString("x")})
		}, ErrInvalidDraft},
		{"list custom field", func() ([]byte, error) {
			return NewCustom(me, "gotest", 1, 1, 1, nil, map[string]bencode.Value{"l": bencode.NewList()})
		}, ErrInvalidDraft},
		{"rt and fav", func() ([]byte, error) {
			return Draft{User: "gotest", K: 1, RT: &orig, Fav: &orig}.Sign(me)
		}, ErrInvalidDraft},
		{"rt and reply", func() ([]byte, error) {
			return Draft{User: "gotest", K: 1, RT: &orig, Reply: &Ref{"gotest2", 1}}.Sign(me)
		}, ErrInvalidDraft},
		{"rt without signature", func() ([]byte, error) {
			return NewRetwist(me, "gotest", 1, 1, 1, Original{Userpost: orig.Userpost}, "", nil)
		}, ErrInvalidDraft},
		{"rt of a string", func() ([]byte, error) {
			return NewRetwist(me, "gotest", 1, 1, 1, Original{Userpost: bencode.NewString("x"), Sig: orig.Sig}, "", nil)
		}, ErrInvalidDraft},
		{"rt of a non-canonical original", func() ([]byte, error) {
			v, err := bencode.DecodeWith([]byte("d1:ki1e1:ai1ee"), bencode.Limits{Lenient: true})
			if err != nil {
				return nil, err
			}
			return NewRetwist(me, "gotest", 1, 1, 1, Original{Userpost: v, Sig: orig.Sig}, "", nil)
		}, ErrInvalidDraft},
		{"malformed dm", func() ([]byte, error) {
			s := sealed
			s.Body = s.Body[:5]
			return NewSealedDM(me, "gotest", 1, 1, 1, s)
		}, ErrBadDM},
		{"bad recipient", func() ([]byte, error) { return NewDM(me, "gotest", 1, 1, 1, keys.PubKey{7}, "x", "hi") }, nil},
	}
	for _, c := range cases {
		b, err := c.f()
		if err == nil {
			t.Errorf("%s: built %d bytes, want an error", c.name, len(b))
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// 141 code points are fine: they are split into msg2.
	b, err := NewPost(me, "gotest", 1, 1, 1, strings.Repeat("ü", 141), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(b)
	if err != nil || p.Msg2 != "ü" {
		t.Errorf("141 code points: %v %q", err, p.Msg2)
	}
	// The largest post that fits is accepted: grow the text to the limit.
	lo, hi := 0, 2048
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := NewPost(me, "gotest", 1, 1, 1, strings.Repeat("y", mid), nil, nil); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	b, err = NewPost(me, "gotest", 1, 1, 1, strings.Repeat("y", lo), nil, nil)
	if err != nil || len(b) != MaxSize {
		t.Errorf("largest post %d bytes, %v; want %d", len(b), err, MaxSize)
	}
}

func TestRejections(t *testing.T) {
	c := chain(t)
	me, other := testKey(t, "gotest"), testKey(t, "gotest2")
	good := daemon("d_post_k2", "post_bencoded_hex")
	upGood := string(daemon("d_post_k2", "userpost_bencoded_hex"))
	// userpost with msg replaced (still canonical, signed by me)
	withMsg := func(msg string) []byte {
		return sign(me, fmt.Appendf(nil, "d6:heighti100e1:ki2e5:lastki1e3:msg%d:%s1:n6:gotest4:timei1795319392ee", len(msg), msg))
	}
	padded := func(n int) []byte { // a signed post of exactly n bytes, through a custom field
		base := len(sign(me, []byte("d6:heighti100e1:ki2e1:n6:gotest1:x0:e")))
		fill := n - base
		digits := len(fmt.Sprint(fill)) - 1
		return sign(me, fmt.Appendf(nil, "d6:heighti100e1:ki2e1:n6:gotest1:x%d:%se", fill-digits, strings.Repeat("z", fill-digits)))
	}
	if got := len(padded(2048)); got != 2048 {
		t.Fatalf("padded(2048) is %d bytes", got)
	}
	dmPost := func(body []byte) []byte {
		s, err := dm.Encrypt(other.PubKey(), []byte("a message long enough for two blocks"))
		if err != nil {
			t.Fatal(err)
		}
		if body == nil {
			s.Body = s.Body[:len(s.Body)-5]
		} else {
			s.Body = body
		}
		up := bencode.NewDict()
		up.Set("dm", s.Value())
		up.Set("height", bencode.NewInt(100))
		up.Set("k", bencode.NewInt(2))
		up.Set("msg", bencode.NewString(""))
		up.Set("msg2", bencode.NewString(""))
		up.Set("n", bencode.NewString("gotest"))
		up.Set("time", bencode.NewInt(1))
		return sign(me, bencode.Encode(up))
	}
	rtAndFav := func(rtSig, favSig []byte) []byte {
		orig := daemon("d_post_gotest2_k2", "userpost_bencoded_hex")
		up := fmt.Appendf(nil, "d3:fav%s6:heighti100e1:ki2e3:msg0:1:n6:gotest2:rt%s7:sig_fav%d:%s6:sig_rt%d:%se",
			orig, orig, len(favSig), favSig, len(rtSig), rtSig)
		return sign(me, up)
	}
	origSig := vectors.Hex(vectors.Verified(), "daemon_posts", "d_post_gotest2_k2", "rpc_json", "sig_userpost")
	badSig := append([]byte{}, origSig...)
	badSig[40] ^= 1
	rtc := daemon("d_rtc_k5", "post_bencoded_hex")
	badWort := bytes.Replace(rtc, vectors.Hex(vectors.Verified(), "daemon_posts", "d_rtc_k5", "rpc_json", "sig_wort"),
		me.Sign([]byte("something else")), 1)

	cases := []struct {
		name string
		data []byte
		user string
		k    int64
		c    Chain
		want error
	}{
		{"good", good, "gotest", 2, c, nil},
		{"empty", nil, "gotest", 2, c, ErrMalformed},
		{"2048 bytes", padded(2048), "gotest", 2, c, nil},
		{"2049 bytes", padded(2049), "gotest", 2, c, ErrTooBig},
		{"truncated", good[:len(good)-1], "gotest", 2, c, bencode.ErrSyntax},
		{"trailing byte", append(append([]byte{}, good...), 'x'), "gotest", 2, c, ErrMalformed},
		{"not a dict", []byte("l1:ae"), "gotest", 2, c, ErrMalformed},
		{"no userpost", []byte("d12:sig_userpost1:xe"), "gotest", 2, c, ErrMalformed},
		{"no signature", []byte("d8:userpost" + upGood + "e"), "gotest", 2, c, ErrMalformed},
		{"empty signature", []byte("d12:sig_userpost0:8:userpost" + upGood + "e"), "gotest", 2, c, ErrMalformed},
		{"unsorted userpost keys", sign(me, []byte("d1:ki2e6:heighti100e3:msg2:hi1:n6:gotest4:timei1ee")), "gotest", 2, c, bencode.ErrNonCanonical},
		{"unsorted top-level keys", []byte("d8:userpost" + upGood + "12:sig_userpost1:xe"), "gotest", 2, c, bencode.ErrNonCanonical},
		{"non-minimal integer", sign(me, []byte("d6:heighti0100e1:ki2e1:n6:gotest4:timei1ee")), "gotest", 2, c, bencode.ErrNonCanonical},
		{"140 code points", withMsg(strings.Repeat("ü", 140)), "gotest", 2, c, nil},
		{"141 code points", withMsg(strings.Repeat("ü", 141)), "gotest", 2, c, ErrMsgTooLong},
		{"invalid UTF-8", withMsg("bad \xff byte"), "gotest", 2, c, ErrBadUTF8},
		{"surrogate in msg", withMsg("\xed\xa0\x80"), "gotest", 2, c, ErrBadUTF8},
		{"msg is an integer", sign(me, []byte("d6:heighti100e1:ki2e3:msgi5e1:n6:goteste")), "gotest", 2, c, ErrMalformed},
		{"no height", sign(me, []byte("d1:ki2e1:n6:goteste")), "gotest", 2, c, ErrMalformed},
		{"no n", sign(me, []byte("d6:heighti100e1:ki2ee")), "gotest", 2, c, ErrMalformed},
		{"reply without k", sign(me, []byte("d6:heighti100e1:ki2e1:n6:gotest5:replyd1:n1:xee")), "gotest", 2, c, ErrMalformed},
		{"wrong user", good, "gotest2", 2, c, ErrWrongUser},
		{"wrong k", good, "gotest", 3, c, ErrWrongK},
		{"wrong signer", good, "gotest", 2, testChain{
			StaticResolver: keys.StaticResolver{"gotest": {{Height: 1, Key: other.PubKey()}}},
			tip:            101, reg: c.reg}, ErrBadSignature},
		{"signed by another user's key", sign(other, []byte(upGood)), "gotest", 2, c, ErrBadSignature},
		{"unregistered", good, "gotest", 2, testChain{StaticResolver: c.StaticResolver, tip: 101, reg: map[string]int64{}}, ErrUnregistered},
		{"post number at limit", sign(me, []byte("d6:heighti100e1:ki220e1:n6:goteste")), "gotest", 220, c, nil},
		{"post number over limit", sign(me, []byte("d6:heighti100e1:ki221e1:n6:goteste")), "gotest", 221, c, ErrPostNumber},
		{"negative post number", sign(me, []byte("d6:heighti100e1:ki-1e1:n6:goteste")), "gotest", -1, c, ErrPostNumber},
		{"post number, tip 0", sign(me, []byte("d6:heighti100e1:ki9999e1:n6:goteste")), "gotest", 9999,
			testChain{StaticResolver: c.StaticResolver, tip: 0, reg: c.reg}, nil},
		{"height tip+1", sign(me, []byte("d6:heighti102e1:ki2e1:n6:goteste")), "gotest", 2, c, nil},
		{"height tip+2", sign(me, []byte("d6:heighti103e1:ki2e1:n6:goteste")), "gotest", 2, c, ErrHeight},
		{"negative height", sign(me, []byte("d6:heighti-1e1:ki2e1:n6:goteste")), "gotest", 2, c, ErrHeight},
		{"height before registration", sign(me, []byte("d6:heighti0e1:ki2e1:n6:goteste")), "gotest", 2, c, ErrBadSignature},
		{"truncated dm body", dmPost(nil), "gotest", 2, c, ErrBadDM},
		{"empty dm body", dmPost([]byte{}), "gotest", 2, c, ErrBadDM},
		{"dm is a string", sign(me, []byte("d2:dm1:x6:heighti100e1:ki2e1:n6:goteste")), "gotest", 2, c, ErrBadDM},
		{"rt and fav valid", rtAndFav(origSig, origSig), "gotest", 2, c, nil},
		{"rt bad, fav valid", rtAndFav(badSig, origSig), "gotest", 2, c, ErrBadRTSignature},
		{"rt valid, fav bad", rtAndFav(origSig, badSig), "gotest", 2, c, ErrBadFavSignature},
		{"rt without sig_rt", sign(me, fmt.Appendf(nil, "d6:heighti100e1:ki2e1:n6:gotest2:rt%se", daemon("d_post_gotest2_k2", "userpost_bencoded_hex"))), "gotest", 2, c, ErrBadRTSignature},
		{"bad sig_wort", badWort, "gotest", 5, c, ErrBadWortSignature},
	}
	for _, tc := range cases {
		p, err := Validate(tc.data, tc.user, tc.k, tc.c)
		if tc.want == nil {
			if err != nil || p == nil {
				t.Errorf("%s: %v, want success", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want %v", tc.name, tc.want)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if p != nil {
			t.Errorf("%s: a post returned with an error", tc.name)
		}
	}
}

// Every single-bit change anywhere in a signed post makes it invalid.
func TestEveryFlippedBitFails(t *testing.T) {
	c := chain(t)
	for _, name := range []string{"d_post_k2", "d_rtc_k5", "d_dm_k8"} {
		raw := daemon(name, "post_bencoded_hex")
		user := "gotest"
		p, err := Validate(raw, user, mustK(t, raw), c)
		if err != nil {
			t.Fatal(err)
		}
		step := 1
		if testing.Short() {
			step = 7
		}
		for i := 0; i < len(raw); i += step {
			for _, bit := range []byte{0x01, 0x20, 0x80} {
				b := append([]byte{}, raw...)
				b[i] ^= bit
				q, err := Validate(b, user, p.K, c)
				if err == nil && p.SigWort != nil && q.SigWort == nil {
					// The name of the top-level sig_wort was changed: an
					// unknown top-level key is ignored, as by twisterd,
					// and sig_wort is covered by no other signature.
					continue
				}
				if err == nil {
					t.Fatalf("%s: flipping bit %#x of byte %d (%q) still validates: %+v", name, bit, i, raw[i], q)
				}
			}
		}
	}
}

func mustK(t *testing.T, raw []byte) int64 {
	p, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p.K
}

// Old posts keep verifying with the key valid at their height after a key
// replacement, and new ones need the new key.
func TestKeyReplacement(t *testing.T) {
	me, other := testKey(t, "gotest"), testKey(t, "gotest2")
	c := testChain{
		StaticResolver: keys.StaticResolver{"gotest": {{Height: 1, Key: me.PubKey()}, {Height: 150, Key: other.PubKey()}}},
		tip:            200, reg: map[string]int64{"gotest": 150},
	}
	if _, err := Validate(daemon("d_post_k2", "post_bencoded_hex"), "gotest", 2, c); err != nil {
		t.Errorf("old post after key replacement: %v", err)
	}
	newPost, err := NewPost(me, "gotest", 3, 1, 160, "with the old key", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(newPost, "gotest", 3, c); !errors.Is(err, ErrBadSignature) || !errors.Is(err, keys.ErrWrongSigner) {
		t.Errorf("new post with the replaced key: %v", err)
	}
	newPost, err = NewPost(other, "gotest", 3, 1, 160, "with the new key", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(newPost, "gotest", 3, c); err != nil {
		t.Errorf("new post with the new key: %v", err)
	}
}

func TestFromFuture(t *testing.T) {
	p, err := Decode(daemon("d_post_k2", "post_bencoded_hex"))
	if err != nil {
		t.Fatal(err)
	}
	if p.FromFuture(p.Time) || p.FromFuture(p.Time-MaxTimeInFuture) || !p.FromFuture(p.Time-MaxTimeInFuture-1) {
		t.Errorf("FromFuture boundaries wrong for time %d", p.Time)
	}
	q, err := Decode(sign(testKey(t, "gotest"), []byte("d6:heighti100e1:ki2e1:n6:goteste")))
	if err != nil {
		t.Fatal(err)
	}
	if q.HasTime || !q.FromFuture(1<<40) {
		t.Errorf("a post without time must be skipped")
	}
}

func TestFlagsMatch(t *testing.T) {
	cases := []struct {
		f, allowed, required Flags
		want                 bool
	}{
		{0, FlagRT, 0, true},
		{FlagRT, FlagRT, 0, true},
		{FlagDM, FlagRT, 0, false},
		{FlagFav, FlagRT, 0, false},
		{FlagPFav, FlagFav, 0, false},
		{FlagPFav, FlagPFav, FlagPFav, true},
		{FlagFav, FlagPFav, FlagFav, true},
		{0, 0xff, FlagDM, false},
		{FlagDM, 0xff, FlagDM, true},
	}
	for _, c := range cases {
		if got := c.f.Match(c.allowed, c.required); got != c.want {
			t.Errorf("%#x.Match(%#x, %#x) = %v", c.f, c.allowed, c.required, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			if p != nil {
				t.Fatal("post returned with an error")
			}
			return
		}
		if len(data) > MaxSize || !bytes.Equal(bencode.Encode(p.Value), data) {
			t.Fatalf("accepted a non-canonical or oversized post")
		}
		_ = p.Text()
		_ = p.Mentions()
		_ = p.Wort()
		_ = p.CustomFields()
		if up, err := p.Draft().Userpost(); err == nil {
			_ = bencode.Encode(up)
		}
	})
}

func FuzzValidate(f *testing.F) {
	c := chain(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data)
		if err != nil {
			return
		}
		p, err := Validate(data, d.User, d.K, c)
		if err != nil {
			return
		}
		if err := keys.VerifyUser(c, p.User, p.Height, p.Userpost.Raw, p.SigUserpost); err != nil {
			t.Fatalf("validated post has a bad signature: %v", err)
		}
	})
}

func BenchmarkEncodePost(b *testing.B) {
	p, err := Decode(daemon("d_post_k2", "post_bencoded_hex"))
	if err != nil {
		b.Fatal(err)
	}
	d := p.Draft()
	b.ReportAllocs()
	for b.Loop() {
		up, err := d.Userpost()
		if err != nil {
			b.Fatal(err)
		}
		out := bencode.NewDict()
		out.Set("sig_userpost", bencode.NewBytes(p.SigUserpost))
		out.Set("userpost", up)
		_ = bencode.Encode(out)
	}
}

func BenchmarkDecodePost(b *testing.B) {
	raw := daemon("d_post_k2", "post_bencoded_hex")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidatePost(b *testing.B) {
	raw := daemon("d_post_k2", "post_bencoded_hex")
	c := chain(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(raw, "gotest", 2, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignPost(b *testing.B) {
	k := testKey(b, "gotest")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPost(k, "gotest", 2, 1795319392, 100, "hello from twisterd #twistertest @gotest2", i64(1), nil); err != nil {
			b.Fatal(err)
		}
	}
}
