// Package resource names twister's DHT resources and computes their targets:
// the 20-byte id under which a (name, resource, single|multi) triple is
// stored, SHA-1 of the bencoded dictionary {n, r, t}. The target of a user's
// "tracker" multi resource is also the info-hash of that user's post swarm.
package resource

import (
	"crypto/sha1"
	"strconv"

	"github.com/gotwister/twister/bencode"
)

// Target is a 20-byte DHT key.
type Target [20]byte

// Kind letters of the "t" field.
const (
	Single = "s"
	Multi  = "m"
)

// Resource names used by twister clients.
const (
	Profile   = "profile"
	Avatar    = "avatar"
	Status    = "status"
	Tracker   = "tracker"
	Mention   = "mention"
	Hashtag   = "hashtag"
	Swarm     = "swarm"
	postPre   = "post"
	replyPre  = "replies"
	rtsPre    = "rts"
	followPre = "following"
)

// Post is the single resource holding post k of a user.
func Post(k int64) string { return postPre + strconv.FormatInt(k, 10) }

// Replies is the multi resource collecting replies to post k.
func Replies(k int64) string { return replyPre + strconv.FormatInt(k, 10) }

// Rts is the multi resource collecting retwists of post k.
func Rts(k int64) string { return rtsPre + strconv.FormatInt(k, 10) }

// Following is page n (1, 2, …) of a user's public following list.
func Following(n int) string { return followPre + strconv.Itoa(n) }

// TargetDict returns the {n, r, t} dictionary whose encoding defines a target.
func TargetDict(name, res string, multi bool) bencode.Value {
	t := Single
	if multi {
		t = Multi
	}
	d := bencode.NewDict()
	d.Set("n", bencode.NewString(name))
	d.Set("r", bencode.NewString(res))
	d.Set("t", bencode.NewString(t))
	return d
}

// TargetOf returns SHA-1 of the given bytes: use it with the raw bytes of a
// received target dictionary.
func TargetOf(encoded []byte) Target { return sha1.Sum(encoded) }

// TargetFor returns the target of (name, res, multi).
func TargetFor(name, res string, multi bool) Target {
	return TargetOf(bencode.Encode(TargetDict(name, res, multi)))
}

// InfoHash returns the info-hash of user's post swarm: the target of
// (user, "tracker", multi).
func InfoHash(user string) Target { return TargetFor(user, Tracker, true) }
