package dm

import (
	"errors"
	"fmt"

	"github.com/gotwister/twister/bencode"
)

// ErrPlaintext is wrapped by errors about a decrypted plaintext that cannot
// be used.
var ErrPlaintext = errors.New("dm: unusable plaintext")

// Message is the plaintext of a direct message in the current format:
// bencode({"msg": text, "to": recipient}). For a group message To is the
// group's alias as the sender knows it.
type Message struct {
	Msg string
	To  string
}

// Encode returns the bencoded {msg, to} dictionary.
func (m Message) Encode() []byte {
	d := bencode.NewDict()
	d.Set("msg", bencode.NewString(m.Msg))
	d.Set("to", bencode.NewString(m.To))
	return bencode.Encode(d)
}

// GroupInvite is the plaintext {"group_invite": {"desc": d, "key": k}}
// that invites a user into a group chat (sent to the member) or changes its
// description (sent to the group key). Key is the group's secret key string
// (52-character WIF).
type GroupInvite struct {
	Desc string
	Key  string
}

// Encode returns bencode({"group_invite": {"desc", "key"}}).
func (g GroupInvite) Encode() []byte {
	inner := bencode.NewDict()
	inner.Set("desc", bencode.NewString(g.Desc))
	inner.Set("key", bencode.NewString(g.Key))
	d := bencode.NewDict()
	d.Set("group_invite", inner)
	return bencode.Encode(d)
}

// GroupMembers is the plaintext {"group_members": [names…]} sent to a
// group's key to tell its members who belongs to it.
type GroupMembers []string

// Encode returns bencode({"group_members": [...]}).
func (g GroupMembers) Encode() []byte {
	list := make([]bencode.Value, len(g))
	for i, m := range g {
		list[i] = bencode.NewString(m)
	}
	d := bencode.NewDict()
	d.Set("group_members", bencode.NewList(list...))
	return bencode.Encode(d)
}

// Kind tells what a decrypted DM plaintext is.
type Kind int

// The kinds of DM plaintexts.
const (
	// KindText is the old format: the plaintext is the text itself
	// (also any plaintext that is not one of the dictionaries below).
	KindText Kind = iota + 1
	// KindMessage is the current {msg, to} format.
	KindMessage
	// KindGroupInvite is a {group_invite: {desc, key}} invitation.
	KindGroupInvite
	// KindGroupMembers is a {group_members: [...]} member list.
	KindGroupMembers
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindMessage:
		return "message"
	case KindGroupInvite:
		return "group invite"
	case KindGroupMembers:
		return "group members"
	}
	return "unknown"
}

// Plaintext is a parsed DM plaintext.
type Plaintext struct {
	Kind Kind
	// Text is the message: the whole plaintext for KindText, "msg" for
	// KindMessage (and for KindGroupMembers when "msg" and "to" are also
	// present).
	Text string
	// To is the "to" field of KindMessage (and of KindGroupMembers when
	// present): the conversation partner of a copy sent to oneself.
	To      string
	Invite  GroupInvite  // KindGroupInvite
	Members GroupMembers // KindGroupMembers: the non-empty string entries
}

// ParsePlaintext interprets a decrypted DM plaintext as twister-core's
// processReceivedDM does. If it bdecodes (leniently, ignoring trailing
// bytes, as libtorrent's lazy_bdecode) to a dictionary:
//   - a "group_invite" dictionary makes it KindGroupInvite; its "desc" and
//     "key" must be strings, else an error is returned (the reference
//     drops such a message);
//   - a "group_members" list makes it KindGroupMembers (the reference only
//     acts on it when received with a group's key; otherwise a receiver
//     should treat it as KindMessage when To is set);
//   - "msg" and "to" strings make it KindMessage;
//   - any other dictionary is KindText with the raw bytes as text.
//
// Anything else is KindText: the old format, where the plaintext is the
// text. It never panics; the only errors concern a broken group_invite and
// empty input.
func ParsePlaintext(b []byte) (Plaintext, error) {
	if len(b) == 0 {
		return Plaintext{}, fmt.Errorf("%w: empty", ErrPlaintext)
	}
	raw := Plaintext{Kind: KindText, Text: string(b)}
	v, _, err := bencode.DecodePrefixWith(b, bencode.Limits{Lenient: true, MaxDepth: 100})
	if err != nil || v.Kind != bencode.Dict {
		return raw, nil
	}
	if inv, ok := v.GetDict("group_invite"); ok {
		desc, ok1 := inv.GetString("desc")
		key, ok2 := inv.GetString("key")
		if !ok1 || !ok2 {
			return Plaintext{}, fmt.Errorf("%w: group_invite without string desc and key", ErrPlaintext)
		}
		return Plaintext{Kind: KindGroupInvite, Invite: GroupInvite{Desc: desc, Key: key}}, nil
	}
	msg, okMsg := v.GetString("msg")
	to, okTo := v.GetString("to")
	if list, ok := v.GetList("group_members"); ok {
		p := Plaintext{Kind: KindGroupMembers, Members: GroupMembers{}}
		for _, m := range list {
			if m.Kind == bencode.String && len(m.Str) > 0 {
				p.Members = append(p.Members, string(m.Str))
			}
		}
		if okMsg && okTo {
			p.Text, p.To = msg, to
		}
		return p, nil
	}
	if okMsg && okTo {
		return Plaintext{Kind: KindMessage, Text: msg, To: to}, nil
	}
	return raw, nil
}

// PrivateFav is the plaintext of a private favourite:
// bencode({"comment": c, "sig_userpost": sig, "userpost": original}),
// sealed to the favouring user's own key and stored under "pfav".
type PrivateFav struct {
	Comment     string
	SigUserpost []byte
	// Userpost is the favourited post's userpost dictionary. After
	// ParsePrivateFav its Raw holds the bytes SigUserpost signs.
	Userpost bencode.Value
}

// Encode returns the bencoded plaintext. The userpost is re-encoded
// canonically, which gives back the signed bytes for any post that passed
// strict decoding.
func (f PrivateFav) Encode() []byte {
	d := bencode.NewDict()
	d.Set("comment", bencode.NewString(f.Comment))
	d.Set("sig_userpost", bencode.NewBytes(f.SigUserpost))
	d.Set("userpost", f.Userpost)
	return bencode.Encode(d)
}

// ParsePrivateFav reads a private favourite plaintext. "userpost" must be
// a dictionary and "sig_userpost" a string; "comment" may be absent (the
// reference reads a missing one as empty). Other keys (for example the
// sig_wort of a favourited commented retwist, which twisterd copies along)
// are ignored.
func ParsePrivateFav(b []byte) (PrivateFav, error) {
	v, _, err := bencode.DecodePrefixWith(b, bencode.Limits{Lenient: true, MaxDepth: 100})
	if err != nil {
		return PrivateFav{}, fmt.Errorf("%w: private favourite: %w", ErrPlaintext, err)
	}
	if v.Kind != bencode.Dict {
		return PrivateFav{}, fmt.Errorf("%w: private favourite is a %s, not a dictionary", ErrPlaintext, v.Kind)
	}
	up, ok := v.GetDict("userpost")
	if !ok {
		return PrivateFav{}, fmt.Errorf("%w: private favourite without a userpost dictionary", ErrPlaintext)
	}
	sig, ok := v.GetBytes("sig_userpost")
	if !ok {
		return PrivateFav{}, fmt.Errorf("%w: private favourite without a sig_userpost string", ErrPlaintext)
	}
	f := PrivateFav{SigUserpost: sig, Userpost: up}
	if c, ok := v.Get("comment"); ok {
		if c.Kind != bencode.String {
			return PrivateFav{}, fmt.Errorf("%w: private favourite comment is a %s", ErrPlaintext, c.Kind)
		}
		f.Comment = string(c.Str)
	}
	return f, nil
}
