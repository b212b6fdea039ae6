package dm

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

func mustKey(t testing.TB, privHex string) *keys.PrivateKey {
	t.Helper()
	b, err := hex.DecodeString(privHex)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.PrivateKeyFromBytes(b, true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKey returns the private key of a user in the verified vectors' _about.keys.
func testKey(t testing.TB, user string) *keys.PrivateKey {
	t.Helper()
	v := vectors.Verified()
	k := mustKey(t, vectors.Str(v, "_about", "keys", user, "priv_hex"))
	if k.PubKey().Hex() != vectors.Str(v, "_about", "keys", user, "pubkey") {
		t.Fatalf("vector key of %s does not match its pubkey", user)
	}
	return k
}

func TestDerivedVector(t *testing.T) {
	d := vectors.Derived()
	e := func(k ...string) []byte {
		return vectors.Hex(d, append([]string{"derived_by_spec", "ecies_dm"}, k...)...)
	}
	recipient := mustKey(t, hex.EncodeToString(e("recipient_priv_hex")))
	if !bytes.Equal(recipient.PubKey(), e("recipient_pubkey_hex")) {
		t.Fatalf("recipient pubkey mismatch")
	}
	eph := mustKey(t, hex.EncodeToString(e("ephemeral_priv_hex")))
	plain := []byte(vectors.Str(d, "derived_by_spec", "ecies_dm", "plaintext_bencoded"))

	x, err := SharedSecret(eph, recipient.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, e("ecdh_x_hex")) {
		t.Errorf("ecdh x = %x, want %x", x, e("ecdh_x_hex"))
	}
	x2, err := SharedSecret(recipient, eph.PubKey())
	if err != nil || !bytes.Equal(x2, x) {
		t.Errorf("ECDH is not symmetric: %x vs %x (%v)", x2, x, err)
	}
	if k := sha512.Sum512(x); !bytes.Equal(k[:], e("sha512_kdf_hex")) {
		t.Errorf("K = %x, want %x", k, e("sha512_kdf_hex"))
	}

	s, err := EncryptWith(eph, recipient.PubKey(), plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Key, e("dm", "key")) {
		t.Errorf("key = %x, want %x", s.Key, e("dm", "key"))
	}
	if !bytes.Equal(s.Mac, e("dm", "mac")) {
		t.Errorf("mac = %x, want %x", s.Mac, e("dm", "mac"))
	}
	if !bytes.Equal(s.Body, e("dm", "body")) {
		t.Errorf("body = %x, want %x", s.Body, e("dm", "body"))
	}
	if want := vectors.Int(d, "derived_by_spec", "ecies_dm", "dm", "orig"); s.Orig != want {
		t.Errorf("orig = %d, want %d", s.Orig, want)
	}
	got, err := Decrypt(recipient, s)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt = %q, %v; want %q", got, err, plain)
	}
	p, err := ParsePlaintext(got)
	if err != nil || p.Kind != KindMessage || p.Text != "hi there" || p.To != "gotest" {
		t.Errorf("ParsePlaintext = %+v, %v", p, err)
	}
	if !bytes.Equal(Message{Msg: "hi there", To: "gotest"}.Encode(), plain) {
		t.Errorf("Message.Encode differs from the vector plaintext")
	}
}

// sealedInPost digs dm or pfav out of a daemon post's userpost bytes.
func sealedInPost(t *testing.T, name, field string) Sealed {
	t.Helper()
	up, err := bencode.Decode(vectors.Hex(vectors.Verified(), "daemon_posts", name, "userpost_bencoded_hex"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	v, ok := up.Get(field)
	if !ok {
		t.Fatalf("%s has no %s", name, field)
	}
	s, err := ParseSealed(v)
	if err != nil {
		t.Fatalf("%s: ParseSealed: %v", name, err)
	}
	if !bytes.Equal(bencode.Encode(s.Value()), v.Raw) {
		t.Errorf("%s: Value() does not re-encode to the received bytes", name)
	}
	return s
}

func TestDaemonMessages(t *testing.T) {
	v := vectors.Verified()
	cases := []struct {
		post, field, key, other string
	}{
		{"d_dm_k8", "dm", "gotest2", "gotest"},
		{"d_dm_copyself_k9_10", "dm", "gotest", "gotest2"},
		{"d_pfav_k7", "pfav", "gotest", "gotest2"},
	}
	for _, c := range cases {
		t.Run(c.post, func(t *testing.T) {
			s := sealedInPost(t, c.post, c.field)
			got, err := Decrypt(testKey(t, c.key), s)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if want := vectors.Hex(v, "daemon_posts", c.post, "plaintext_hex"); !bytes.Equal(got, want) {
				t.Fatalf("plaintext %q, want %q", got, want)
			}
			if _, err := Decrypt(testKey(t, c.other), s); !errors.Is(err, ErrMAC) {
				t.Errorf("decrypt with %s: %v, want ErrMAC", c.other, err)
			}
		})
	}

	// The DM plaintexts are {msg, to} messages.
	for name, want := range map[string]Plaintext{
		"d_dm_k8":             {Kind: KindMessage, Text: "secret hi gotest2", To: "gotest2"},
		"d_dm_copyself_k9_10": {Kind: KindMessage, Text: "dm with copy to self", To: "gotest2"},
	} {
		p, err := ParsePlaintext(vectors.Hex(v, "daemon_posts", name, "plaintext_hex"))
		if err != nil || p.Kind != want.Kind || p.Text != want.Text || p.To != want.To {
			t.Errorf("%s: ParsePlaintext = %+v, %v; want %+v", name, p, err, want)
		}
		if !bytes.Equal(Message{Msg: want.Text, To: want.To}.Encode(), vectors.Hex(v, "daemon_posts", name, "plaintext_hex")) {
			t.Errorf("%s: Message.Encode differs from the daemon's plaintext", name)
		}
	}

	// The private favourite plaintext holds gotest2's post and signature.
	raw := vectors.Hex(v, "daemon_posts", "d_pfav_k7", "plaintext_hex")
	f, err := ParsePrivateFav(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Comment != "private fav comment" {
		t.Errorf("comment %q", f.Comment)
	}
	orig := vectors.Hex(v, "daemon_posts", "d_post_gotest2_k2", "userpost_bencoded_hex")
	if !bytes.Equal(f.Userpost.Raw, orig) {
		t.Errorf("favourited userpost bytes differ from gotest2's post")
	}
	gotest2 := testKey(t, "gotest2").PubKey()
	if err := keys.Verify(f.Userpost.Raw, f.SigUserpost, gotest2); err != nil {
		t.Errorf("favourited post signature: %v", err)
	}
	if !bytes.Equal(f.Encode(), raw) {
		t.Errorf("PrivateFav.Encode differs from the daemon's plaintext")
	}
}

func TestTestvectorRPC(t *testing.T) {
	v := vectors.Verified()
	gotest := testKey(t, "gotest")
	for _, run := range []string{"run1", "run2"} {
		s := Sealed{
			Key:  vectors.Hex(v, "testvector_rpc", run, "sec", "key"),
			Mac:  vectors.Hex(v, "testvector_rpc", run, "sec", "mac"),
			Orig: vectors.Int(v, "testvector_rpc", run, "sec", "orig"),
			Body: vectors.Hex(v, "testvector_rpc", run, "sec", "body"),
		}
		got, err := Decrypt(gotest, s)
		if err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		if want := vectors.Str(v, "testvector_rpc", run, "plaintext"); string(got) != want {
			t.Errorf("%s: %q, want %q", run, got, want)
		}
		p, _ := ParsePlaintext(got)
		if p.Kind != KindText || p.Text != string(got) {
			t.Errorf("%s: raw text parsed as %+v", run, p)
		}
	}
}

func TestRoundTripAndLayout(t *testing.T) {
	to := testKey(t, "gotest2")
	for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 100, 1000} {
		plain := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		s, err := Encrypt(to.PubKey(), plain)
		if err != nil {
			t.Fatal(err)
		}
		wantBody := (n + 15) / 16 * 16
		if len(s.Key) != KeySize || (s.Key[0] != 2 && s.Key[0] != 3) {
			t.Errorf("n=%d: key %x is not a compressed key", n, s.Key)
		}
		if len(s.Mac) != MacSize || len(s.Body) != wantBody || s.Orig != int64(n) {
			t.Errorf("n=%d: mac %d, body %d (want %d), orig %d", n, len(s.Mac), len(s.Body), wantBody, s.Orig)
		}
		got, err := Decrypt(to, s)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: round trip gave %q, %v", n, got, err)
		}
		// The padding is zeros: decrypting without truncation shows them.
		full := s
		full.Orig = int64(len(s.Body))
		padded, err := Decrypt(to, full)
		if err != nil || !bytes.Equal(padded[n:], make([]byte, wantBody-n)) {
			t.Errorf("n=%d: padding %x, %v", n, padded[n:], err)
		}
		// Through bencode and back.
		enc := bencode.Encode(s.Value())
		v, err := bencode.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseSealed(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decrypt(to, s2); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("n=%d: after bencode: %q, %v", n, got, err)
		}
	}
	if _, err := Encrypt(to.PubKey(), nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty plaintext: %v", err)
	}
	if _, err := Encrypt(keys.PubKey{1, 2, 3}, []byte("x")); err == nil {
		t.Errorf("bad recipient key accepted")
	}
	// Two encryptions of the same text differ (fresh ephemeral key).
	a, _ := Encrypt(to.PubKey(), []byte("same"))
	b, _ := Encrypt(to.PubKey(), []byte("same"))
	if bytes.Equal(a.Key, b.Key) || bytes.Equal(a.Body, b.Body) {
		t.Errorf("two encryptions share an ephemeral key")
	}
}

// Decrypt accepts any padding (a PKCS#7-padded body, as the web UI's helper
// writes, decrypts too), since only the mac is checked.
func TestAnyPadding(t *testing.T) {
	to := testKey(t, "gotest")
	eph := testKey(t, "gotest2")
	plain := []byte("twelve bytes")
	pk := append(append([]byte{}, plain...), 4, 4, 4, 4) // PKCS#7 to 16
	s, err := EncryptWith(eph, to.PubKey(), pk)
	if err != nil {
		t.Fatal(err)
	}
	s.Orig = int64(len(plain))
	got, err := Decrypt(to, s)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("PKCS#7-padded body: %q, %v", got, err)
	}
}

func TestUncompressedRecipient(t *testing.T) {
	b := testKey(t, "gotest").Bytes()
	k, err := keys.PrivateKeyFromBytes(b, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Encrypt(k.PubKey(), []byte("to an uncompressed key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decrypt(testKey(t, "gotest"), s); err != nil || string(got) != "to an uncompressed key" {
		t.Errorf("%q, %v", got, err)
	}
}

func TestBadInput(t *testing.T) {
	to := testKey(t, "gotest2")
	good, err := Encrypt(to.PubKey(), []byte("a message of more than sixteen bytes"))
	if err != nil {
		t.Fatal(err)
	}
	clone := func() Sealed {
		return Sealed{
			Key:  append([]byte{}, good.Key...),
			Mac:  append([]byte{}, good.Mac...),
			Orig: good.Orig,
			Body: append([]byte{}, good.Body...),
		}
	}
	cases := []struct {
		name   string
		change func(*Sealed)
		want   error
	}{
		{"wrong key", nil, ErrMAC},
		{"body truncated by a block", func(s *Sealed) { s.Body = s.Body[:16]; s.Orig = 16 }, ErrMAC},
		{"body truncated mid-block", func(s *Sealed) { s.Body = s.Body[:len(s.Body)-1] }, ErrMalformed},
		{"empty body", func(s *Sealed) { s.Body = nil; s.Orig = 0 }, ErrMalformed},
		{"mac truncated", func(s *Sealed) { s.Mac = s.Mac[:63] }, ErrMalformed},
		{"no mac", func(s *Sealed) { s.Mac = nil }, ErrMalformed},
		{"flipped body byte", func(s *Sealed) { s.Body[3] ^= 1 }, ErrMAC},
		{"flipped mac byte", func(s *Sealed) { s.Mac[63] ^= 0x80 }, ErrMAC},
		{"flipped key byte", func(s *Sealed) { s.Key[10] ^= 1 }, nil}, // off-curve or another point
		{"bad key prefix", func(s *Sealed) { s.Key[0] = 5 }, ErrMalformed},
		{"truncated key", func(s *Sealed) { s.Key = s.Key[:32] }, ErrMalformed},
		{"no key", func(s *Sealed) { s.Key = nil }, ErrMalformed},
		{"key off the curve", func(s *Sealed) { s.Key = append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...) }, ErrMalformed},
		{"orig too big", func(s *Sealed) { s.Orig = int64(len(s.Body)) + 1 }, ErrMalformed},
		{"orig negative", func(s *Sealed) { s.Orig = -1 }, ErrMalformed},
	}
	for _, c := range cases {
		s := clone()
		key := to
		if c.change == nil {
			key = testKey(t, "gotest")
		} else {
			c.change(&s)
		}
		got, err := Decrypt(key, s)
		if err == nil {
			t.Errorf("%s: decrypted to %q", c.name, got)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.want == nil && !errors.Is(err, ErrMAC) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMAC or ErrMalformed", c.name, err)
		}
	}
	if _, err := Decrypt(nil, good); err == nil {
		t.Errorf("nil key accepted")
	}
}

func TestParseSealedErrors(t *testing.T) {
	good := Sealed{Key: testKey(t, "gotest").PubKey(), Mac: make([]byte, 64), Orig: 3, Body: make([]byte, 16)}
	if _, err := ParseSealed(good.Value()); err != nil {
		t.Fatalf("good: %v", err)
	}
	mutate := map[string]func(*bencode.Value){
		"no key":         func(v *bencode.Value) { v.Delete("key") },
		"no mac":         func(v *bencode.Value) { v.Delete("mac") },
		"no orig":        func(v *bencode.Value) { v.Delete("orig") },
		"no body":        func(v *bencode.Value) { v.Delete("body") },
		"orig as string": func(v *bencode.Value) { v.Set("orig", bencode.NewString("3")) },
		"body as int":    func(v *bencode.Value) { v.Set("body", bencode.NewInt(3)) },
		"short body":     func(v *bencode.Value) { v.Set("body", bencode.NewBytes(make([]byte, 15))) },
	}
	for name, m := range mutate {
		v := good.Value()
		m(&v)
		if _, err := ParseSealed(v); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ParseSealed(bencode.NewString("x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("string: %v", err)
	}
	// Extra keys are ignored.
	v := good.Value()
	v.Set("zzz", bencode.NewInt(1))
	if _, err := ParseSealed(v); err != nil {
		t.Errorf("extra key: %v", err)
	}
}

func TestParsePlaintext(t *testing.T) {
	cases := []struct {
		in   string
		want Plaintext
		err  bool
	}{
		{"hello there", Plaintext{Kind: KindText, Text: "hello there"}, false},
		{"d3:msg2:hi2:to3:bobe", Plaintext{Kind: KindMessage, Text: "hi", To: "bob"}, false},
		{"d2:to3:bob3:msg2:hie", Plaintext{Kind: KindMessage, Text: "hi", To: "bob"}, false}, // unsorted, as lazy_bdecode allows
		{"d3:msg2:hi2:to3:bobeTRAILING", Plaintext{Kind: KindMessage, Text: "hi", To: "bob"}, false},
		{"d3:msg2:hie", Plaintext{Kind: KindText, Text: "d3:msg2:hie"}, false},
		{"i42e", Plaintext{Kind: KindText, Text: "i42e"}, false},
		{"d3:msg", Plaintext{Kind: KindText, Text: "d3:msg"}, false},
		{"d12:group_invited4:desc5:hello3:key4:WIF!ee",
			Plaintext{Kind: KindGroupInvite, Invite: GroupInvite{Desc: "hello", Key: "WIF!"}}, false},
		{"d12:group_invited4:desc5:helloee", Plaintext{}, true},
		{"d13:group_membersl5:alice0:i1e3:bobee",
			Plaintext{Kind: KindGroupMembers, Members: GroupMembers{"alice", "bob"}}, false},
		{"", Plaintext{}, true},
	}
	for _, c := range cases {
		got, err := ParsePlaintext([]byte(c.in))
		if c.err {
			if !errors.Is(err, ErrPlaintext) {
				t.Errorf("%q: err %v, want ErrPlaintext", c.in, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	inv := GroupInvite{Desc: "our group", Key: testKey(t, "gotest").Secret()}
	if p, err := ParsePlaintext(inv.Encode()); err != nil || p.Kind != KindGroupInvite || p.Invite != inv {
		t.Errorf("invite round trip: %+v, %v", p, err)
	}
	mem := GroupMembers{"gotest", "gotest2"}
	if p, err := ParsePlaintext(mem.Encode()); err != nil || p.Kind != KindGroupMembers || fmt.Sprint(p.Members) != fmt.Sprint(mem) {
		t.Errorf("members round trip: %+v, %v", p, err)
	}
	if string(mem.Encode()) != "d13:group_membersl6:gotest7:gotest2ee" {
		t.Errorf("members encoding %q", mem.Encode())
	}
	if string(inv.Encode()) != "d12:group_invited4:desc9:our group3:key52:"+inv.Key+"ee" {
		t.Errorf("invite encoding %q", inv.Encode())
	}
}

func TestParsePrivateFavErrors(t *testing.T) {
	for _, in := range []string{
		"", "x", "le", "d7:comment1:xe",
		"d12:sig_userpost1:xe",
		"d12:sig_userposti1e8:userpostdee",
		"d7:commenti1e12:sig_userpost1:x8:userpostdee",
	} {
		if _, err := ParsePrivateFav([]byte(in)); !errors.Is(err, ErrPlaintext) {
			t.Errorf("%q: %v, want ErrPlaintext", in, err)
		}
	}
	f, err := ParsePrivateFav([]byte("d12:sig_userpost1:x8:userpostd1:ki1eee"))
	if err != nil || f.Comment != "" || string(f.SigUserpost) != "x" {
		t.Errorf("no comment: %+v, %v", f, err)
	}
}

func FuzzDecrypt(f *testing.F) {
	gotest := testKey(f, "gotest")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := bencode.Decode(data)
		if err != nil {
			return
		}
		s, err := ParseSealed(v)
		if err != nil {
			return
		}
		out, err := Decrypt(gotest, s)
		if err != nil {
			if !errors.Is(err, ErrMAC) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if int64(len(out)) != s.Orig {
			t.Fatalf("plaintext of %d bytes, orig %d", len(out), s.Orig)
		}
		_, _ = ParsePlaintext(out)
		_, _ = ParsePrivateFav(out)
	})
}

func FuzzParsePlaintext(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlaintext(data)
		if err != nil {
			return
		}
		if p.Kind == KindText && p.Text != string(data) {
			t.Fatalf("text kind lost bytes")
		}
	})
}

func FuzzParsePrivateFav(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := ParsePrivateFav(data)
		if err != nil {
			return
		}
		if pf.Userpost.Kind != bencode.Dict {
			t.Fatalf("userpost is a %s", pf.Userpost.Kind)
		}
		_ = pf.Encode()
	})
}

func BenchmarkEncrypt(b *testing.B) {
	to := testKey(b, "gotest2").PubKey()
	plain := Message{Msg: "a direct message of ordinary length, about a hundred bytes or so, nothing more", To: "gotest2"}.Encode()
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encrypt(to, plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k := testKey(b, "gotest2")
	plain := Message{Msg: "a direct message of ordinary length, about a hundred bytes or so, nothing more", To: "gotest2"}.Encode()
	s, err := Encrypt(k.PubKey(), plain)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(k, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptWrongKey is the cost of trying a DM against a key it is
// not for: a node does this for every DM it sees, once per local key.
func BenchmarkDecryptWrongKey(b *testing.B) {
	s, err := Encrypt(testKey(b, "gotest2").PubKey(), []byte("not for you, but the mac must say so"))
	if err != nil {
		b.Fatal(err)
	}
	k := testKey(b, "gotest")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(k, s); !errors.Is(err, ErrMAC) {
			b.Fatal(err)
		}
	}
}
