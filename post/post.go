// Package post is twister's post data model: it decodes, validates, builds
// and signs every kind of post a user's swarm carries — plain posts and
// replies, retwists with or without a comment (sig_wort), public and private
// favourites, direct and group-chat messages, posts with custom fields —
// with the exact layout twister-core's createSignedUserpost writes and the
// acceptance rules of its acceptSignedPost. Signatures are always checked
// over the bytes that were received, never over a re-encoding.
//
// Deviations from twister-core, all in the direction of refusing posts the
// reference would accept (a correct client never makes such posts):
//   - the encoding must be canonical bencode with nothing after the post
//     (the reference decodes leniently and ignores trailing bytes);
//   - a post holding both "rt" and "fav" must have both signatures valid
//     (the reference lets the fav result overwrite the rt result);
//   - a top-level "sig_wort", when present, must verify;
//   - "dm" and "pfav" dictionaries must be well-formed sealed messages;
//   - known fields must have their proper types (the reference reads a
//     mistyped field as absent);
//   - k, height and time are compared as 64-bit integers (the reference
//     truncates them to int).
package post

import (
	"errors"
	"fmt"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/text"
)

// MaxSize is the largest bencoded post accepted, in bytes.
const MaxSize = 2048

// MaxTimeInFuture is how far, in seconds, a post's time may be ahead of the
// reader's clock before readers (getposts, getfavs, getmentions) skip it.
// Acceptance into a swarm does not look at time.
const MaxTimeInFuture = 7200

// Flags classify a post as twister-core's getposts filtering does.
type Flags uint32

// Post flag bits (USERPOST_FLAG_* in twister-core).
const (
	FlagRT   Flags = 0x01 // has "rt": a retwist
	FlagDM   Flags = 0x02 // has "dm": a direct or group message
	FlagFav  Flags = 0x04 // has "fav": a public favourite
	FlagPFav Flags = 0x0C // has "pfav" (and no "dm"): a private favourite
)

// Match reports whether a post with flags f passes a getposts filter: all
// its bits are allowed and all required bits are set.
func (f Flags) Match(allowed, required Flags) bool {
	return f&allowed == f && f&required == required
}

// Errors returned by Decode, Validate and the builders. Each returned error
// wraps exactly one of them (and possibly a lower-level cause).
var (
	ErrMalformed        = errors.New("post: malformed")
	ErrTooBig           = errors.New("post: bigger than 2048 bytes")
	ErrBadUTF8          = errors.New("post: msg is not valid UTF-8")
	ErrMsgTooLong       = errors.New("post: msg longer than 140 code points")
	ErrBadDM            = errors.New("post: malformed encrypted message")
	ErrWrongUser        = errors.New("post: author is not the swarm's user")
	ErrWrongK           = errors.New("post: post number is not the piece index")
	ErrUnregistered     = errors.New("post: author is not registered")
	ErrPostNumber       = errors.New("post: post number out of range for this user")
	ErrHeight           = errors.New("post: height is negative or beyond the chain tip")
	ErrBadSignature     = errors.New("post: bad sig_userpost")
	ErrBadRTSignature   = errors.New("post: bad sig_rt")
	ErrBadFavSignature  = errors.New("post: bad sig_fav")
	ErrBadWortSignature = errors.New("post: bad sig_wort")
	ErrInvalidDraft     = errors.New("post: cannot build post")

	errNotCanonical = errors.New("embedded userpost is not canonically encoded")
)

// Ref names a post: the user and the post number. It is the "reply" field.
type Ref struct {
	User string
	K    int64
}

// Embedded is a post embedded in another: the original of a retwist ("rt"
// with "sig_rt") or of a public favourite ("fav" with "sig_fav").
type Embedded struct {
	// Userpost is the embedded userpost dictionary; its Raw holds the
	// bytes Sig signs.
	Userpost bencode.Value
	// Sig is sig_rt or sig_fav, nil if absent.
	Sig []byte
	// User is its "n" ("" if absent).
	User string
	// K, Height and Time are its "k", "height" and "time", -1 when absent.
	// An absent height makes the signature be checked with the user's
	// current key, as the reference does.
	K, Height, Time int64
	// Msg and Msg2 are its text fields ("" if absent).
	Msg, Msg2 string
}

// Text is the embedded post's full text, msg followed by msg2.
func (e *Embedded) Text() string { return e.Msg + e.Msg2 }

// Original returns what is needed to retwist or favourite the embedded post
// (the web UI retwists the original, not the retwist).
func (e *Embedded) Original() Original { return Original{Userpost: e.Userpost, Sig: e.Sig} }

// Original is a signed userpost to be embedded in a retwist or a favourite:
// the original's userpost dictionary and its sig_userpost.
type Original struct {
	Userpost bencode.Value
	Sig      []byte
}

// Post is a decoded post. Decode fills it from received bytes; the fields
// mirror the userpost dictionary, and Raw, Value and Userpost keep the exact
// bytes for signature checks and storage.
type Post struct {
	Raw      []byte        // the whole post as received
	Value    bencode.Value // the top-level dictionary
	Userpost bencode.Value // the signed dictionary; Userpost.Raw is what sig_userpost signs

	User    string // "n"
	K       int64  // "k", the post number (= piece index)
	Height  int64  // "height": the author's tip height − 1 when posting
	Time    int64  // "time", valid when HasTime
	HasTime bool

	Msg, Msg2 string // "msg" and "msg2" ("" when absent)
	HasMsg2   bool

	LastK *int64     // "lastk": the author's previous public post
	Reply *Ref       // "reply": the post this one answers
	RT    *Embedded  // "rt" + "sig_rt"
	Fav   *Embedded  // "fav" + "sig_fav"
	DM    *dm.Sealed // "dm"
	PFav  *dm.Sealed // "pfav"
	Flags Flags      // computed as twister-core does

	SigUserpost []byte // top-level "sig_userpost"
	SigWort     []byte // top-level "sig_wort" (commented retwists), nil if absent
}

// userpost keys with a meaning; any other key is a custom field.
var knownFields = map[string]bool{
	"n": true, "k": true, "time": true, "height": true, "msg": true, "msg2": true,
	"lastk": true, "reply": true, "rt": true, "sig_rt": true, "fav": true,
	"sig_fav": true, "dm": true, "pfav": true,
}

// Text is the post's full text: msg followed by msg2, as the web UI shows it.
func (p *Post) Text() string { return p.Msg + p.Msg2 }

// FromFuture tells whether a reader should skip the post for its time, as
// twisterd's getposts and getfavs do: no "time" field, or a time more than
// MaxTimeInFuture seconds after now (UNIX seconds). (getmentions also
// skips times <= 0.)
func (p *Post) FromFuture(now int64) bool {
	return !p.HasTime || p.Time > now+MaxTimeInFuture
}

// IsPrivate tells whether the post is a direct message or a private
// favourite: its text is empty and its content is sealed.
func (p *Post) IsPrivate() bool { return p.DM != nil || p.PFav != nil }

// Mentions returns the users @mentioned in the post's text (for a retwist
// or a public favourite, its comment), lower-cased, each once. These are
// the "mention" resources the author's node puts the post under. Direct
// messages and private favourites mention nobody.
func (p *Post) Mentions() []string {
	if p.IsPrivate() {
		return nil
	}
	return text.Mentions(p.Text())
}

// Hashtags returns the post's #hashtags like Mentions returns mentions.
func (p *Post) Hashtags() []string {
	if p.IsPrivate() {
		return nil
	}
	return text.Hashtags(p.Text())
}

// Original returns the post's userpost and signature, for retwisting or
// favouriting it.
func (p *Post) Original() Original { return Original{Userpost: p.Userpost, Sig: p.SigUserpost} }

// Wort returns the bytes sig_wort signs: the userpost without "rt" and
// "sig_rt" ("without rt"). It is meaningful for commented retwists.
func (p *Post) Wort() []byte {
	w := p.Userpost
	w.Delete("rt")
	w.Delete("sig_rt")
	return bencode.Encode(w)
}

// CommentOriginal returns the comment of a commented retwist as a
// standalone original (the userpost without rt/sig_rt, signed by sig_wort),
// which is how the web UI retwists a comment. It fails if the post has no
// sig_wort.
func (p *Post) CommentOriginal() (Original, error) {
	if p.SigWort == nil {
		return Original{}, fmt.Errorf("%w: post %s/%d has no sig_wort", ErrInvalidDraft, p.User, p.K)
	}
	w, err := bencode.Decode(p.Wort())
	if err != nil {
		return Original{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Original{Userpost: w, Sig: p.SigWort}, nil
}

// CustomFields returns the userpost entries that are not twister's own
// fields (for example "url" and "mimetype" of a short-URL post), in key
// order.
func (p *Post) CustomFields() []bencode.Pair {
	var out []bencode.Pair
	for _, kv := range p.Userpost.Dict {
		if !knownFields[kv.Key] {
			out = append(out, kv)
		}
	}
	return out
}

// Field returns any userpost entry by name.
func (p *Post) Field(name string) (bencode.Value, bool) { return p.Userpost.Get(name) }

// OpenDM decrypts the post's "dm" with k and parses the plaintext. It
// fails with dm.ErrMAC when the message is not for k.
func (p *Post) OpenDM(k *keys.PrivateKey) (dm.Plaintext, error) {
	if p.DM == nil {
		return dm.Plaintext{}, fmt.Errorf("post %s/%d is not a direct message", p.User, p.K)
	}
	b, err := dm.Decrypt(k, *p.DM)
	if err != nil {
		return dm.Plaintext{}, err
	}
	return dm.ParsePlaintext(b)
}

// OpenPrivateFav decrypts the post's "pfav" with k (the author's own key)
// and parses the favourite inside.
func (p *Post) OpenPrivateFav(k *keys.PrivateKey) (dm.PrivateFav, error) {
	if p.PFav == nil {
		return dm.PrivateFav{}, fmt.Errorf("post %s/%d is not a private favourite", p.User, p.K)
	}
	b, err := dm.Decrypt(k, *p.PFav)
	if err != nil {
		return dm.PrivateFav{}, err
	}
	return dm.ParsePrivateFav(b)
}

// Draft returns the fields of the post as a Draft. For a post laid out as
// twister-core lays posts out (msg2 present only when the text needed it,
// or for empty text) Draft().Userpost() gives back the same bytes.
func (p *Post) Draft() Draft {
	d := Draft{
		User: p.User, K: p.K, Time: p.Time, Height: p.Height,
		Text: p.Text(), LastK: p.LastK, Reply: p.Reply, DM: p.DM, PFav: p.PFav,
	}
	if p.RT != nil {
		o := p.RT.Original()
		d.RT = &o
	}
	if p.Fav != nil {
		o := p.Fav.Original()
		d.Fav = &o
	}
	for _, kv := range p.CustomFields() {
		if d.Fields == nil {
			d.Fields = map[string]bencode.Value{}
		}
		d.Fields[kv.Key] = kv.Value
	}
	return d
}

// OriginalOf decodes a post (strictly, without checking signatures) and
// returns its userpost and signature, ready to be retwisted or favourited.
func OriginalOf(data []byte) (Original, error) {
	p, err := Decode(data)
	if err != nil {
		return Original{}, err
	}
	return p.Original(), nil
}

// decodeLimits are lazy_bdecode's defaults used by acceptSignedPost.
var decodeLimits = bencode.Limits{MaxDepth: 1000}

// Decode checks and decodes the structure of a post: 1 to 2048 bytes of
// canonical bencode holding a dictionary with a "userpost" dictionary and a
// non-empty "sig_userpost" string; the userpost has a string "n" and
// integers "k" and "height", a "msg" (if any) of valid UTF-8 and at most 140
// code points, and properly typed optional fields. It checks no signature
// and nothing that needs the chain; see Validate.
func Decode(data []byte) (*Post, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooBig, len(data))
	}
	v, err := bencode.DecodeWith(data, decodeLimits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v.Kind != bencode.Dict {
		return nil, fmt.Errorf("%w: %s, not a dictionary", ErrMalformed, article(v.Kind))
	}
	p := &Post{Raw: data, Value: v}
	var ok bool
	if p.Userpost, ok = v.GetDict("userpost"); !ok {
		return nil, fmt.Errorf("%w: no userpost dictionary", ErrMalformed)
	}
	if p.SigUserpost, ok = v.GetBytes("sig_userpost"); !ok || len(p.SigUserpost) == 0 {
		return nil, fmt.Errorf("%w: no sig_userpost", ErrMalformed)
	}
	if x, ok := v.Get("sig_wort"); ok {
		if x.Kind != bencode.String {
			return nil, fmt.Errorf("%w: sig_wort is %s, not a string", ErrMalformed, article(x.Kind))
		}
		p.SigWort = x.Str
	}
	if err := p.parseUserpost(); err != nil {
		return nil, err
	}
	return p, nil
}

func fieldErr(name string, x bencode.Value, want bencode.Kind) error {
	return fmt.Errorf("%w: userpost %q is %s, not %s", ErrMalformed, name, article(x.Kind), article(want))
}

func article(k bencode.Kind) string {
	if k == bencode.Int {
		return "an integer"
	}
	return "a " + k.String()
}

func (p *Post) parseUserpost() error {
	up := p.Userpost
	for _, kv := range up.Dict {
		x := kv.Value
		switch kv.Key {
		case "n":
			if x.Kind != bencode.String {
				return fieldErr(kv.Key, x, bencode.String)
			}
			p.User = string(x.Str)
		case "k":
			if x.Kind != bencode.Int {
				return fieldErr(kv.Key, x, bencode.Int)
			}
			p.K = x.Int
		case "height":
			if x.Kind != bencode.Int {
				return fieldErr(kv.Key, x, bencode.Int)
			}
			p.Height = x.Int
		case "time":
			if x.Kind != bencode.Int {
				return fieldErr(kv.Key, x, bencode.Int)
			}
			p.Time, p.HasTime = x.Int, true
		case "msg", "msg2":
			if x.Kind != bencode.String {
				return fieldErr(kv.Key, x, bencode.String)
			}
			if kv.Key == "msg" {
				p.Msg = string(x.Str)
			} else {
				p.Msg2, p.HasMsg2 = string(x.Str), true
			}
		case "lastk":
			if x.Kind != bencode.Int {
				return fieldErr(kv.Key, x, bencode.Int)
			}
			n := x.Int
			p.LastK = &n
		case "reply":
			if x.Kind != bencode.Dict {
				return fieldErr(kv.Key, x, bencode.Dict)
			}
			n, ok1 := x.GetString("n")
			k, ok2 := x.GetInt("k")
			if !ok1 || !ok2 {
				return fmt.Errorf("%w: reply needs a string n and an integer k", ErrMalformed)
			}
			p.Reply = &Ref{User: n, K: k}
		case "rt", "fav":
			if x.Kind != bencode.Dict {
				return fieldErr(kv.Key, x, bencode.Dict)
			}
			e := embedded(x)
			if kv.Key == "rt" {
				p.RT = e
				p.Flags |= FlagRT
			} else {
				p.Fav = e
				p.Flags |= FlagFav
			}
		case "sig_rt", "sig_fav":
			if x.Kind != bencode.String {
				return fieldErr(kv.Key, x, bencode.String)
			}
		case "dm", "pfav":
			s, err := dm.ParseSealed(x)
			if err != nil {
				return fmt.Errorf("%w: field %q: %w", ErrBadDM, kv.Key, err)
			}
			if kv.Key == "dm" {
				p.DM = &s
			} else {
				p.PFav = &s
			}
		}
	}
	for _, req := range []struct {
		name string
		kind bencode.Kind
	}{{"n", bencode.String}, {"k", bencode.Int}, {"height", bencode.Int}} {
		if !up.Has(req.name) {
			return fmt.Errorf("%w: userpost has no %q (%s)", ErrMalformed, req.name, article(req.kind))
		}
	}
	if p.RT != nil {
		p.RT.Sig, _ = up.GetBytes("sig_rt")
	}
	if p.Fav != nil {
		p.Fav.Sig, _ = up.GetBytes("sig_fav")
	}
	if p.DM != nil {
		p.Flags |= FlagDM
	} else if p.PFav != nil {
		p.Flags |= FlagPFav
	}
	n, err := text.CodePoints(p.Msg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUTF8, err)
	}
	if n > text.MaxMsgChars {
		return fmt.Errorf("%w: %d code points", ErrMsgTooLong, n)
	}
	return nil
}

func embedded(v bencode.Value) *Embedded {
	e := &Embedded{Userpost: v, K: -1, Height: -1, Time: -1}
	e.User, _ = v.GetString("n")
	if k, ok := v.GetInt("k"); ok {
		e.K = k
	}
	if h, ok := v.GetInt("height"); ok {
		e.Height = h
	}
	if t, ok := v.GetInt("time"); ok {
		e.Time = t
	}
	e.Msg, _ = v.GetString("msg")
	e.Msg2, _ = v.GetString("msg2")
	return e
}

// Chain is what validation needs from the block chain: users' keys by
// height, the tip height, and the height of the block holding each user's
// current registration.
type Chain interface {
	keys.Resolver
	// Height is the current tip height.
	Height() int64
	// RegistrationHeight is the height of the block holding the user's
	// current registration (or key replacement) transaction; it fails
	// for unknown users.
	RegistrationHeight(user string) (int64, error)
}

// Validate decodes data and applies every acceptance rule twister-core's
// acceptSignedPost applies to piece k of user's swarm (see Check).
func Validate(data []byte, user string, k int64, c Chain) (*Post, error) {
	p, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := p.Check(user, k, c); err != nil {
		return nil, err
	}
	return p, nil
}

// Check applies the acceptance rules that need context to a decoded post,
// in twister-core's order: the author is user and the post number is k;
// the user is registered, k >= 0 and, when the tip is above 0,
// k <= 2·(tip − registration height) + 20; height >= 0 and, when the tip is
// above 0, height <= tip + 1; sig_userpost verifies over the received
// userpost bytes with the user's key at the post's height; an embedded rt
// or fav verifies with its author's key at its own height (both, when both
// are present); and sig_wort, when present, verifies over Wort().
func (p *Post) Check(user string, k int64, c Chain) error {
	if p.User != user {
		return fmt.Errorf("%w: expected %q, got %q", ErrWrongUser, user, p.User)
	}
	if p.K != k {
		return fmt.Errorf("%w: expected piece %d, got %d", ErrWrongK, k, p.K)
	}
	if err := CheckPostNumber(c, user, k); err != nil {
		return err
	}
	tip := c.Height()
	if p.Height < 0 || (tip > 0 && p.Height > tip+1) {
		return fmt.Errorf("%w: height %d, tip %d", ErrHeight, p.Height, tip)
	}
	if err := keys.VerifyUser(c, user, p.Height, p.Userpost.Bytes(), p.SigUserpost); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if p.RT != nil {
		if err := verifyEmbedded(c, p.RT, "sig_rt"); err != nil {
			return fmt.Errorf("%w: %w", ErrBadRTSignature, err)
		}
	}
	if p.Fav != nil {
		if err := verifyEmbedded(c, p.Fav, "sig_fav"); err != nil {
			return fmt.Errorf("%w: %w", ErrBadFavSignature, err)
		}
	}
	if p.SigWort != nil {
		if err := keys.VerifyUser(c, user, p.Height, p.Wort(), p.SigWort); err != nil {
			return fmt.Errorf("%w: %w", ErrBadWortSignature, err)
		}
	}
	return nil
}

func verifyEmbedded(c Chain, e *Embedded, field string) error {
	if len(e.Sig) == 0 {
		return fmt.Errorf("no %s", field)
	}
	return keys.VerifyUser(c, e.User, e.Height, e.Userpost.Bytes(), e.Sig)
}

// CheckPostNumber applies validatePostNumberForUser: the user must be
// registered, k >= 0, and when the tip is above 0,
// k <= 2·(tip − registration height) + 20.
func CheckPostNumber(c Chain, user string, k int64) error {
	reg, err := c.RegistrationHeight(user)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrUnregistered, user, err)
	}
	if k < 0 {
		return fmt.Errorf("%w: %d is negative", ErrPostNumber, k)
	}
	if tip := c.Height(); tip > 0 {
		if limit := 2*(tip-reg) + 20; k > limit {
			return fmt.Errorf("%w: %d > %d (2·(tip %d − registration %d) + 20)", ErrPostNumber, k, limit, tip, reg)
		}
	}
	return nil
}
