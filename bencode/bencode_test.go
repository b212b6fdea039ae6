package bencode

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []string{
		"i0e", "i-1e", "i42e", "i9223372036854775807e", "i-9223372036854775808e",
		"0:", "5:hello", "le", "li1ei2ee", "de",
		"d1:n7:twister1:r7:tracker1:t1:me",
		"d6:heighti100e1:ki1e3:msg11:hello world1:n6:gotest4:timei1400000000ee",
		"d1:ad1:bl1:cd1:di-5eeeee",
	}
	for _, c := range cases {
		v, err := Decode([]byte(c))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got := string(Encode(v)); got != c {
			t.Errorf("re-encode %s = %s", c, got)
		}
		if !bytes.Equal(v.Raw, []byte(c)) {
			t.Errorf("raw of %s = %s", c, v.Raw)
		}
	}
}

func TestRawSubDictionary(t *testing.T) {
	in := []byte("d12:sig_userpost2:xy8:userpostd1:ki1e1:n1:aee")
	v, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	up, ok := v.GetDict("userpost")
	if !ok || string(up.Raw) != "d1:ki1e1:n1:ae" {
		t.Fatalf("userpost raw = %q", up.Raw)
	}
	if s, _ := v.GetString("sig_userpost"); s != "xy" {
		t.Fatalf("sig = %q", s)
	}
}

func TestRejects(t *testing.T) {
	cases := map[string]error{
		"":                       ErrSyntax,
		"i01e":                   ErrNonCanonical,
		"i-0e":                   ErrNonCanonical,
		"ie":                     ErrSyntax,
		"i1":                     ErrSyntax,
		"i1x2e":                  ErrSyntax,
		"01:a":                   ErrNonCanonical,
		"-1:a":                   ErrSyntax,
		"5:abc":                  ErrSyntax,
		"l":                      ErrSyntax,
		"d1:ai1e":                ErrSyntax,
		"di1ei2ee":               ErrSyntax,
		"d1:bi1e1:ai2ee":         ErrNonCanonical,
		"d1:ai1e1:ai2ee":         ErrNonCanonical,
		"i1ei2e":                 ErrSyntax,
		"x":                      ErrSyntax,
		"i99999999999999999999e": ErrSyntax,
	}
	for in, want := range cases {
		if _, err := Decode([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
	}
}

func TestLenient(t *testing.T) {
	in := []byte("d1:bi1e1:ai02ee")
	v, err := DecodeWith(in, Limits{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := v.GetInt("a"); n != 2 {
		t.Fatalf("a = %d", n)
	}
	if string(v.Raw) != string(in) {
		t.Fatal("raw not kept")
	}
	if string(Encode(v)) != "d1:ai2e1:bi1ee" {
		t.Fatalf("canonical = %s", Encode(v))
	}
}

func TestLimits(t *testing.T) {
	deep := bytes.Repeat([]byte("l"), 11)
	deep = append(deep, bytes.Repeat([]byte("e"), 11)...)
	if _, err := DecodeWith(deep, Limits{MaxDepth: 10}); !errors.Is(err, ErrLimit) {
		t.Fatalf("depth: %v", err)
	}
	if _, err := DecodeWith([]byte("li1ei2ei3ee"), Limits{MaxItems: 3}); !errors.Is(err, ErrLimit) {
		t.Fatalf("items: %v", err)
	}
}

func TestBuild(t *testing.T) {
	d := NewDict()
	d.Set("z", NewInt(1))
	d.Set("a", NewString("x"))
	d.Set("m", NewList(NewInt(-3), NewBytes([]byte{0, 1})))
	d.Set("a", NewString("y"))
	if got := string(Encode(d)); got != "d1:a1:y1:mli-3e2:\x00\x01e1:zi1ee" {
		t.Fatalf("got %q", got)
	}
	d.Delete("m")
	if got := string(Encode(d)); got != "d1:a1:y1:zi1ee" {
		t.Fatalf("got %q", got)
	}
	v, err := From(map[string]any{"n": "twister", "r": "tracker", "t": "m"})
	if err != nil || string(Encode(v)) != "d1:n7:twister1:r7:tracker1:t1:me" {
		t.Fatalf("From: %v %s", err, Encode(v))
	}
	if _, err := From(true); err == nil {
		t.Fatal("bool accepted")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"i0e", "d1:ad1:bi1eee", "l5:helloi-3ee", "d8:userpostd1:ki1eee", "i01e", "d1:bi1e1:ai1ee"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeWith(data, Limits{MaxDepth: 32, MaxItems: 10000})
		if err != nil {
			lv, lerr := DecodeWith(data, Limits{MaxDepth: 32, MaxItems: 10000, Lenient: true})
			if lerr == nil {
				// Leniently decodable input re-encodes to something the
				// strict decoder accepts.
				if _, err := Decode(Encode(lv)); err != nil {
					t.Fatalf("canonical form of lenient value rejected: %v", err)
				}
			}
			return
		}
		// Strictly decoded input is canonical: it re-encodes to itself.
		if !bytes.Equal(Encode(v), data) {
			t.Fatalf("strict decode of %q re-encodes to %q", data, Encode(v))
		}
		if !bytes.Equal(v.Raw, data) {
			t.Fatal("raw differs from input")
		}
	})
}
