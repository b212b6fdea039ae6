package webnode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gotwister/twister/post"
)

// PostView is a verified post as the page sees it (JSON field names are
// the JavaScript API's).
type PostView struct {
	ID       string        `json:"id"` // "user/k"
	User     string        `json:"user"`
	K        int64         `json:"k"`
	Time     int64         `json:"time"`
	Height   int64         `json:"height"`
	Kind     string        `json:"kind"` // "post", "reply", "rt", "fav", "pfav", "dm", "custom"
	Text     string        `json:"text"` // msg + msg2 (for a retwist: its comment)
	LastK    *int64        `json:"lastk,omitempty"`
	Reply    *Ref          `json:"reply,omitempty"`
	RT       *EmbeddedView `json:"rt,omitempty"`
	Fav      *EmbeddedView `json:"fav,omitempty"`
	Mentions []string      `json:"mentions,omitempty"`
	Hashtags []string      `json:"hashtags,omitempty"`
	// Verified is always true: the node returns nothing it has not
	// checked (signature with the chain key at the post's height, post
	// number limit, size, embedded signatures).
	Verified bool `json:"verified"`
	// Userpost is the post in twisterd's getposts JSON form
	// ({"userpost": {...}, "sig_userpost": "hex"}), for UIs written
	// against twisterd's RPC.
	Userpost any `json:"userpost"`
}

// Ref names a post.
type Ref struct {
	User string `json:"user"`
	K    int64  `json:"k"`
}

// EmbeddedView is a retwisted or favourited original.
type EmbeddedView struct {
	User   string `json:"user"`
	K      int64  `json:"k"`
	Time   int64  `json:"time"`
	Height int64  `json:"height"`
	Text   string `json:"text"`
}

// DMView is a decrypted direct message.
type DMView struct {
	ID   string `json:"id"`   // the post carrying it, "user/k"
	From string `json:"from"` // author of the post
	To   string `json:"to"`   // recipient named inside the message
	Time int64  `json:"time"`
	Text string `json:"text"`
	// Mine is true for the sender's own copy (sealed to the sender).
	Mine bool `json:"mine"`
}

// PostID is the id of post k of user in views and paging: "user/k".
func PostID(user string, k int64) string { return user + "/" + strconv.FormatInt(k, 10) }

// ParsePostID splits "user/k".
func ParsePostID(id string) (string, int64, error) {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("webnode: bad post id %q (want user/k)", id)
	}
	k, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil || k < 0 {
		return "", 0, fmt.Errorf("webnode: bad post id %q (want user/k)", id)
	}
	return id[:i], k, nil
}

func embeddedView(e *post.Embedded) *EmbeddedView {
	if e == nil {
		return nil
	}
	return &EmbeddedView{User: e.User, K: e.K, Time: e.Time, Height: e.Height, Text: e.Text()}
}

// viewOf makes the view of a verified post.
func viewOf(p *post.Post) *PostView {
	v := &PostView{
		ID: PostID(p.User, p.K), User: p.User, K: p.K, Time: p.Time, Height: p.Height,
		Text: p.Text(), LastK: p.LastK, RT: embeddedView(p.RT), Fav: embeddedView(p.Fav),
		Mentions: p.Mentions(), Hashtags: p.Hashtags(), Verified: true, Userpost: p.JSON(),
	}
	if p.Reply != nil {
		v.Reply = &Ref{User: p.Reply.User, K: p.Reply.K}
	}
	v.Kind = kindOf(p)
	return v
}

func kindOf(p *post.Post) string {
	switch {
	case p.DM != nil:
		return "dm"
	case p.PFav != nil:
		return "pfav"
	case p.Fav != nil:
		return "fav"
	case p.RT != nil:
		return "rt"
	case p.Reply != nil:
		return "reply"
	case len(p.CustomFields()) > 0:
		return "custom"
	}
	return "post"
}
