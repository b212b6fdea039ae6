// Package text holds twister's rules for the words people type: which
// usernames the block chain accepts, how post text is counted (UTF-8 code
// points) and split into the signed "msg" and "msg2" fields, and how
// @mentions and #hashtags are picked out of a message to be published under
// the "mention" and "hashtag" DHT resources. Everything here follows
// twister-core byte for byte (src/main.cpp CheckUsername, src/twister.cpp
// createSignedUserpost and dispatchHM, src/utf8core.h).
package text

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxUsernameLen is the longest username the chain accepts, in bytes.
const MaxUsernameLen = 16

// MaxMsgChars is the most code points a post's "msg" field may hold.
const MaxMsgChars = 140

// ErrBadUsername is wrapped by every error ValidUsername returns.
var ErrBadUsername = errors.New("text: invalid username")

// ErrBadUTF8 is returned for text that is not valid UTF-8.
var ErrBadUTF8 = errors.New("text: invalid UTF-8")

// ValidUsername checks a username as the chain's consensus rules do
// (CheckUsername): 1 to 16 bytes, each one of a-z, 0-9 or '_'. The error
// says what is wrong and where.
func ValidUsername(s string) error {
	if len(s) == 0 {
		return fmt.Errorf("%w: empty", ErrBadUsername)
	}
	if len(s) > MaxUsernameLen {
		return fmt.Errorf("%w: %d bytes long, at most %d allowed", ErrBadUsername, len(s), MaxUsernameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c >= 'A' && c <= 'Z':
			return fmt.Errorf("%w: %q: must be lowercase (%q at byte %d)", ErrBadUsername, s, s[i:i+1], i)
		case c == ' ' || (c >= '\t' && c <= '\r'):
			return fmt.Errorf("%w: %q: spaces are not allowed (byte %d)", ErrBadUsername, s, i)
		default:
			return fmt.Errorf("%w: %q: character %q at byte %d (only a-z, 0-9 and _ are allowed)", ErrBadUsername, s, s[i:i+1], i)
		}
	}
	return nil
}

// CodePoints returns the number of code points in s, or ErrBadUTF8 (with the
// byte offset) if s is not valid UTF-8. Validity is that of twister-core's
// utf8::num_characters: no overlong forms, no surrogates, nothing above
// U+10FFFF — the same set Go's utf8.ValidString accepts.
func CodePoints(s string) (int, error) {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return 0, fmt.Errorf("%w at byte %d", ErrBadUTF8, i)
		}
		i += size
		n++
	}
	return n, nil
}

// CheckMsg checks the "msg" field rule of post acceptance: valid UTF-8 and
// at most 140 code points.
func CheckMsg(msg string) error {
	n, err := CodePoints(msg)
	if err != nil {
		return err
	}
	if n > MaxMsgChars {
		return fmt.Errorf("text: msg has %d code points, at most %d allowed", n, MaxMsgChars)
	}
	return nil
}

// SplitMsg splits a post's text into the "msg" and "msg2" fields as
// createSignedUserpost does: text of 1 to 140 code points goes into msg
// alone (hasMsg2 false). Otherwise — longer text, or empty text — both
// fields are set: msg holds the first 140 code points and msg2 the rest
// (both empty for empty text). text should be valid UTF-8 (see CodePoints);
// an invalid byte counts as one code point and is kept as it is.
func SplitMsg(text string) (msg, msg2 string, hasMsg2 bool) {
	n := 0
	for i := 0; i < len(text); n++ {
		if n == MaxMsgChars {
			return text[:i], text[i:], true
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	if n == 0 {
		return "", "", true
	}
	return text, "", false
}

// Delimiters are the bytes that separate words when mentions and hashtags are
// looked for (msgTokensDelimiter in twister-core).
const Delimiters = " \n\t.,:/?!;'\"()[]{}*"

func isDelim(c byte) bool { return strings.IndexByte(Delimiters, c) >= 0 }

// Mentions returns the lower-cased names @mentioned in msg, without the '@',
// each once, in order of first appearance. See Hashtags for the rules.
func Mentions(msg string) []string { return extract(msg, '@') }

// Hashtags returns the lower-cased #hashtags of msg, without the '#', each
// once, in order of first appearance. The rules are those of twister-core's
// dispatchHM: msg is split on any of Delimiters (runs of them count as one);
// a word of at least two bytes starting with the sigil is taken, the sigil
// stripped and the rest lower-cased; if it still contains the sigil it is
// split on it and every non-empty piece is taken ("#a#b" gives "a" and "b").
//
// Lower-casing is Unicode-aware (Lower), as twister-core does when built
// with Boost.Locale; a build without it lower-cases only ASCII, so a
// non-ASCII tag may land under a different DHT name there.
func Hashtags(msg string) []string { return extract(msg, '#') }

func extract(msg string, sigil byte) []string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for i := 0; i < len(msg); {
		for i < len(msg) && isDelim(msg[i]) {
			i++
		}
		start := i
		for i < len(msg) && !isDelim(msg[i]) {
			i++
		}
		token := msg[start:i]
		if len(token) < 2 || token[0] != sigil {
			continue
		}
		word := Lower(token[1:])
		if strings.IndexByte(word, sigil) < 0 {
			add(word)
			continue
		}
		for _, piece := range strings.Split(word, string(sigil)) {
			add(piece)
		}
	}
	return out
}

// Lower lower-cases s code point by code point with Go's Unicode tables
// (unicode.ToLower, the simple case mapping). It is what strings.ToLower
// does, except that bytes that are not valid UTF-8 are kept unchanged
// instead of being replaced. It differs from ICU's full mapping only in rare
// cases (U+0130 'İ' becomes "i", not "i̇"; a final 'Σ' becomes 'σ', not 'ς').
func Lower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteRune(unicode.ToLower(r))
		i += size
	}
	return b.String()
}
