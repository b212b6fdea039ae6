package post

import (
	"bytes"
	"fmt"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/text"
)

// Draft is an unsigned post: the fields that go into its userpost. Sign
// turns it into post bytes. At most one of RT, Fav, DM and PFav may be set;
// Reply cannot go with RT (twister-core's sig_wort would not cover it).
type Draft struct {
	User            string
	K, Time, Height int64
	// Text is split into msg and msg2 as twister-core does: 1..140 code
	// points in msg alone, otherwise (longer or empty) msg = the first 140
	// and msg2 = the rest. It is the comment of a retwist or favourite.
	Text  string
	LastK *int64
	Reply *Ref
	RT    *Original  // retwist of this original
	Fav   *Original  // public favourite of this original
	DM    *dm.Sealed // direct or group message
	PFav  *dm.Sealed // private favourite
	// Fields are custom userpost fields (strings or integers), such as
	// "url" and "mimetype"; twister's own field names are refused.
	Fields map[string]bencode.Value
}

func draftErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDraft, fmt.Sprintf(format, args...))
}

// Userpost returns the draft's unsigned userpost dictionary, canonically
// ordered, after checking the draft.
func (d Draft) Userpost() (bencode.Value, error) {
	up, _, err := d.userpost()
	return up, err
}

// userpost also returns the "without rt" dictionary that sig_wort signs
// (when the draft is a commented retwist).
func (d Draft) userpost() (up bencode.Value, wort *bencode.Value, err error) {
	if err := text.ValidUsername(d.User); err != nil {
		return up, nil, fmt.Errorf("%w: %w", ErrInvalidDraft, err)
	}
	if d.K < 0 {
		return up, nil, draftErr("post number %d is negative", d.K)
	}
	if d.Height < 0 {
		return up, nil, draftErr("height %d is negative", d.Height)
	}
	if d.LastK != nil && *d.LastK < 0 {
		return up, nil, draftErr("lastk %d is negative", *d.LastK)
	}
	if _, err := text.CodePoints(d.Text); err != nil {
		return up, nil, fmt.Errorf("%w: %w", ErrBadUTF8, err)
	}
	kinds := 0
	for _, set := range []bool{d.RT != nil, d.Fav != nil, d.DM != nil, d.PFav != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return up, nil, draftErr("at most one of rt, fav, dm and pfav")
	}
	if d.RT != nil && d.Reply != nil {
		return up, nil, draftErr("a retwist cannot be a reply")
	}

	up = bencode.NewDict()
	for name, v := range d.Fields {
		if knownFields[name] {
			return up, nil, draftErr("custom field %q is one of twister's own fields", name)
		}
		if v.Kind != bencode.String && v.Kind != bencode.Int {
			return up, nil, draftErr("custom field %q is a %s; only strings and integers are allowed", name, v.Kind)
		}
		up.Set(name, v)
	}
	if d.LastK != nil {
		up.Set("lastk", bencode.NewInt(*d.LastK))
	}
	up.Set("n", bencode.NewString(d.User))
	up.Set("k", bencode.NewInt(d.K))
	up.Set("time", bencode.NewInt(d.Time))
	up.Set("height", bencode.NewInt(d.Height))
	msg, msg2, hasMsg2 := text.SplitMsg(d.Text)
	up.Set("msg", bencode.NewString(msg))
	if hasMsg2 {
		up.Set("msg2", bencode.NewString(msg2))
	}

	switch {
	case d.RT != nil:
		if err := checkOriginal(*d.RT, "rt"); err != nil {
			return up, nil, err
		}
		if d.Text != "" {
			w := bencode.Value{Kind: bencode.Dict, Dict: append([]bencode.Pair(nil), up.Dict...)}
			wort = &w
		}
		up.Set("rt", d.RT.Userpost)
		up.Set("sig_rt", bencode.NewBytes(d.RT.Sig))
	case d.Fav != nil:
		if err := checkOriginal(*d.Fav, "fav"); err != nil {
			return up, nil, err
		}
		up.Set("fav", d.Fav.Userpost)
		up.Set("sig_fav", bencode.NewBytes(d.Fav.Sig))
	case d.DM != nil:
		if err := d.DM.Check(); err != nil {
			return up, nil, fmt.Errorf("%w: dm: %w", ErrBadDM, err)
		}
		up.Set("dm", d.DM.Value())
	case d.PFav != nil:
		if err := d.PFav.Check(); err != nil {
			return up, nil, fmt.Errorf("%w: pfav: %w", ErrBadDM, err)
		}
		up.Set("pfav", d.PFav.Value())
	}
	if d.Reply != nil {
		if err := text.ValidUsername(d.Reply.User); err != nil {
			return up, nil, fmt.Errorf("%w: reply: %w", ErrInvalidDraft, err)
		}
		r := bencode.NewDict()
		r.Set("n", bencode.NewString(d.Reply.User))
		r.Set("k", bencode.NewInt(d.Reply.K))
		up.Set("reply", r)
	}
	return up, wort, nil
}

// checkOriginal makes sure an original can be embedded without breaking its
// signature: a dictionary whose canonical encoding is the signed bytes.
func checkOriginal(o Original, field string) error {
	if o.Userpost.Kind != bencode.Dict {
		return draftErr("%s original is a %s, not a dictionary", field, o.Userpost.Kind)
	}
	if len(o.Sig) == 0 {
		return draftErr("%s original has no signature", field)
	}
	if o.Userpost.Raw != nil && !bytes.Equal(bencode.Encode(o.Userpost), o.Userpost.Raw) {
		return fmt.Errorf("%w: %s: %w", ErrInvalidDraft, field, errNotCanonical)
	}
	return nil
}

// Sign signs the draft with key (which must be the user's registered key)
// and returns the bencoded post {sig_userpost, [sig_wort,] userpost}. A
// commented retwist gets sig_wort, the signature over the userpost before
// rt and sig_rt are added. The result is checked with Decode, so a post
// over 2048 bytes or with a bad msg is refused.
func (d Draft) Sign(key *keys.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, draftErr("no signing key")
	}
	up, wort, err := d.userpost()
	if err != nil {
		return nil, err
	}
	out := bencode.NewDict()
	if wort != nil {
		out.Set("sig_wort", bencode.NewBytes(key.Sign(bencode.Encode(*wort))))
	}
	out.Set("sig_userpost", bencode.NewBytes(key.Sign(bencode.Encode(up))))
	out.Set("userpost", up)
	b := bencode.Encode(out)
	if _, err := Decode(b); err != nil {
		return nil, err
	}
	return b, nil
}

// NewPost builds and signs a post (a reply when reply is not nil). lastk is
// the author's previous public post, if any.
func NewPost(key *keys.PrivateKey, user string, k, time, height int64, txt string, lastk *int64, reply *Ref) ([]byte, error) {
	return Draft{User: user, K: k, Time: time, Height: height, Text: txt, LastK: lastk, Reply: reply}.Sign(key)
}

// NewRetwist builds and signs a retwist of orig, with an optional comment
// (which adds sig_wort).
func NewRetwist(key *keys.PrivateKey, user string, k, time, height int64, orig Original, comment string, lastk *int64) ([]byte, error) {
	return Draft{User: user, K: k, Time: time, Height: height, Text: comment, LastK: lastk, RT: &orig}.Sign(key)
}

// NewFav builds and signs a public favourite of orig with an optional
// comment. Like twisterd, it carries no lastk.
func NewFav(key *keys.PrivateKey, user string, k, time, height int64, orig Original, comment string) ([]byte, error) {
	return Draft{User: user, K: k, Time: time, Height: height, Text: comment, Fav: &orig}.Sign(key)
}

// NewPrivateFav builds and signs a private favourite: the plaintext
// {comment, sig_userpost, userpost} of orig is sealed to the author's own
// key (key.PubKey()) and stored under "pfav"; msg and msg2 are empty.
func NewPrivateFav(key *keys.PrivateKey, user string, k, time, height int64, orig Original, comment string) ([]byte, error) {
	if key == nil {
		return nil, draftErr("no signing key")
	}
	if err := checkOriginal(orig, "pfav"); err != nil {
		return nil, err
	}
	pt := dm.PrivateFav{Comment: comment, SigUserpost: orig.Sig, Userpost: orig.Userpost}.Encode()
	s, err := dm.Encrypt(key.PubKey(), pt)
	if err != nil {
		return nil, err
	}
	return Draft{User: user, K: k, Time: time, Height: height, PFav: &s}.Sign(key)
}

// NewDM builds and signs a direct message: the plaintext {msg: txt,
// to: toName} sealed to toPub. For a copy to oneself, call it again with
// one's own key and the next k (toName stays the partner's name). A
// group-chat message is a DM sealed to the group's key, with toName the
// group's alias.
func NewDM(key *keys.PrivateKey, user string, k, time, height int64, toPub keys.PubKey, toName, txt string) ([]byte, error) {
	s, err := dm.Encrypt(toPub, dm.Message{Msg: txt, To: toName}.Encode())
	if err != nil {
		return nil, err
	}
	return NewSealedDM(key, user, k, time, height, s)
}

// NewSealedDM builds and signs a DM post around an already sealed message,
// for group invites and member lists (dm.GroupInvite, dm.GroupMembers) or
// any other plaintext.
func NewSealedDM(key *keys.PrivateKey, user string, k, time, height int64, s dm.Sealed) ([]byte, error) {
	return Draft{User: user, K: k, Time: time, Height: height, DM: &s}.Sign(key)
}

// NewCustom builds and signs a post with custom fields, as twisterd's
// newpostcustom (used by newshorturl with "url" and "mimetype"): msg and
// msg2 are empty and the fields must be strings or integers.
func NewCustom(key *keys.PrivateKey, user string, k, time, height int64, lastk *int64, fields map[string]bencode.Value) ([]byte, error) {
	return Draft{User: user, K: k, Time: time, Height: height, LastK: lastk, Fields: fields}.Sign(key)
}
