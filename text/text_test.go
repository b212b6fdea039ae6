package text

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidUsername(t *testing.T) {
	good := []string{"a", "gotest", "gotest2", "under_score", "0123456789abcdef", "_"}
	for _, s := range good {
		if err := ValidUsername(s); err != nil {
			t.Errorf("ValidUsername(%q) = %v, want nil", s, err)
		}
	}
	bad := map[string]string{
		"":                  "empty",
		"0123456789abcdefg": "17 bytes",
		"Gotest":            "lowercase",
		"go test":           "spaces",
		"go\ttest":          "spaces",
		"go-test":           `"-"`,
		"go.test":           `"."`,
		"gotést":            `"\xc3"`,
		"a\x00":             `"\x00"`,
	}
	for s, want := range bad {
		err := ValidUsername(s)
		if err == nil {
			t.Errorf("ValidUsername(%q) = nil, want error", s)
			continue
		}
		if !errors.Is(err, ErrBadUsername) {
			t.Errorf("ValidUsername(%q) = %v, does not wrap ErrBadUsername", s, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidUsername(%q) = %q, want it to mention %q", s, err, want)
		}
	}
}

func TestCodePoints(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		fail bool
	}{
		{"", 0, false},
		{"hello", 5, false},
		{"héllo", 5, false},
		{"日本語", 3, false},
		{"😀x", 2, false},
		{"\xc3", 0, true},             // truncated sequence
		{"\xc0\x80", 0, true},         // overlong NUL
		{"\xed\xa0\x80", 0, true},     // surrogate U+D800
		{"\xf4\x90\x80\x80", 0, true}, // above U+10FFFF
		{"\xff", 0, true},             // invalid lead byte
		{"ok\x80", 0, true},           // stray continuation byte
	}
	for _, c := range cases {
		n, err := CodePoints(c.in)
		if c.fail {
			if !errors.Is(err, ErrBadUTF8) {
				t.Errorf("CodePoints(%q) error = %v, want ErrBadUTF8", c.in, err)
			}
			continue
		}
		if err != nil || n != c.n {
			t.Errorf("CodePoints(%q) = %d, %v; want %d", c.in, n, err, c.n)
		}
	}
}

func TestCheckMsg(t *testing.T) {
	if err := CheckMsg(strings.Repeat("é", 140)); err != nil {
		t.Errorf("140 code points: %v", err)
	}
	if err := CheckMsg(strings.Repeat("é", 141)); err == nil || !strings.Contains(err.Error(), "141") {
		t.Errorf("141 code points: %v, want an error naming 141", err)
	}
	if err := CheckMsg("a\xffb"); !errors.Is(err, ErrBadUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestSplitMsg(t *testing.T) {
	long := strings.Repeat("ü", 140)
	cases := []struct {
		in, msg, msg2 string
		has           bool
	}{
		{"", "", "", true},
		{"a", "a", "", false},
		{"hello world", "hello world", "", false},
		{long, long, "", false},
		{long + "x", long, "x", true},
		{long + "日本語", long, "日本語", true},
		{strings.Repeat("a", 300), strings.Repeat("a", 140), strings.Repeat("a", 160), true},
	}
	for _, c := range cases {
		msg, msg2, has := SplitMsg(c.in)
		if msg != c.msg || msg2 != c.msg2 || has != c.has {
			t.Errorf("SplitMsg(%d bytes) = (%d bytes, %q, %v), want (%d bytes, %q, %v)",
				len(c.in), len(msg), msg2, has, len(c.msg), c.msg2, c.has)
		}
	}
}

func TestMentionsHashtags(t *testing.T) {
	cases := []struct {
		msg      string
		mentions []string
		tags     []string
	}{
		{"hello from twisterd #twistertest @gotest2", []string{"gotest2"}, []string{"twistertest"}},
		{"@gotest2 this is a reply", []string{"gotest2"}, nil},
		{"first public post by gotest2 #twistertest", nil, []string{"twistertest"}},
		{"", nil, nil},
		{"@ # @a #b", []string{"a"}, []string{"b"}},
		{"(@Alice), [#Go]; {@bob}*#X!", []string{"alice", "bob"}, []string{"go", "x"}},
		{"@alice @ALICE @Alice.", []string{"alice"}, nil},
		{"#a#b##c #a", nil, []string{"a", "b", "c"}},
		{"@@bob @x@y", []string{"bob", "x", "y"}, nil},
		{"mail@example.com x#y", nil, nil},
		{"#ÉTÉ #日本 @Ünïcode", []string{"ünïcode"}, []string{"été", "日本"}},
		{"#tag1\n#tag2\t#tag3:#tag4/#tag5?#tag6'#tag7\"#tag8", nil,
			[]string{"tag1", "tag2", "tag3", "tag4", "tag5", "tag6", "tag7", "tag8"}},
		{"#hash-tag @user_name", []string{"user_name"}, []string{"hash-tag"}},
		{"@#mixed #@mixed", []string{"#mixed"}, []string{"@mixed"}},
	}
	for _, c := range cases {
		if got := Mentions(c.msg); !reflect.DeepEqual(got, c.mentions) {
			t.Errorf("Mentions(%q) = %q, want %q", c.msg, got, c.mentions)
		}
		if got := Hashtags(c.msg); !reflect.DeepEqual(got, c.tags) {
			t.Errorf("Hashtags(%q) = %q, want %q", c.msg, got, c.tags)
		}
	}
}

func TestLower(t *testing.T) {
	cases := map[string]string{
		"abc":       "abc",
		"ABC":       "abc",
		"ÀÉÎ":       "àéî",
		"ΑΒΓ":       "αβγ",
		"a\xffB":    "a\xffb",
		"日本":        "日本",
		"MiXeD_123": "mixed_123",
	}
	for in, want := range cases {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, want %q", in, got, want)
		}
	}
	// For valid UTF-8 Lower is exactly strings.ToLower.
	for _, s := range []string{"Ünïcode İstanbul ΣΑΣ", "ǅ ǈ ǋ"} {
		if Lower(s) != strings.ToLower(s) {
			t.Errorf("Lower(%q) = %q, strings.ToLower = %q", s, Lower(s), strings.ToLower(s))
		}
	}
}

func FuzzSplitMsg(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		msg, msg2, has := SplitMsg(s)
		if msg+msg2 != s {
			t.Fatalf("msg+msg2 != text")
		}
		if !has && (msg2 != "" || s == "") {
			t.Fatalf("hasMsg2 false with msg2 %q for %q", msg2, s)
		}
		if utf8.ValidString(s) {
			if err := CheckMsg(msg); err != nil {
				t.Fatalf("msg of valid text fails CheckMsg: %v", err)
			}
			if !utf8.ValidString(msg2) {
				t.Fatalf("split inside a code point")
			}
		}
	})
}

func FuzzMentions(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		for _, list := range [][]string{Mentions(s), Hashtags(s)} {
			seen := map[string]bool{}
			for _, w := range list {
				if w == "" || seen[w] {
					t.Fatalf("empty or duplicate word %q in %q", w, list)
				}
				seen[w] = true
				for i := 0; i < len(w); i++ {
					if isDelim(w[i]) {
						t.Fatalf("word %q holds a delimiter", w)
					}
				}
			}
		}
		for _, w := range Mentions(s) {
			if strings.Contains(w, "@") {
				t.Fatalf("mention %q still holds '@'", w)
			}
		}
	})
}
