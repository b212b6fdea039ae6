package keystore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

// testKDF keeps the suite fast (1 MiB, a few milliseconds); TestDefaultKDF
// covers the real parameters.
var testKDF = KDFParams{LogN: MinLogN, R: 8, P: 1}

var testNow = time.Unix(1700000000, 0)

// forEachBackend runs fn against every backend of this platform (see
// backends_*_test.go), each fresh.
func forEachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, nb := range testBackends() {
		t.Run(nb.name, func(t *testing.T) { fn(t, nb.open(t)) })
	}
}

func openStore(t *testing.T, b Backend) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), b, Options{KDF: testKDF, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type vectorKey struct {
	wif, privHex, pubHex string
}

func testKey() vectorKey {
	d := vectors.Derived()
	return vectorKey{
		wif:     vectors.Str(d, "derived_by_spec", "test_key", "wif_compressed"),
		privHex: vectors.Str(d, "derived_by_spec", "test_key", "priv_hex"),
		pubHex:  vectors.Str(d, "derived_by_spec", "test_key", "pubkey_compressed_hex"),
	}
}

func rawRecord(t *testing.T, b Backend, user string) []byte {
	t.Helper()
	v, ok, err := b.Get(context.Background(), recordKey(user))
	if err != nil || !ok {
		t.Fatalf("raw record of %q: ok=%v err=%v", user, ok, err)
	}
	return v
}

func TestBackendContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		if _, ok, err := b.Get(ctx, "missing"); ok || err != nil {
			t.Fatalf("Get(missing) = ok %v, err %v; want false, nil", ok, err)
		}
		if err := b.Delete(ctx, "missing"); err != nil {
			t.Fatalf("Delete(missing): %v", err)
		}
		vals := map[string][]byte{
			"account/alice": []byte("one"),
			"account/bob":   {0, 1, 2, 255},
			"other key %/.": {},
		}
		for k, v := range vals {
			if err := b.Put(ctx, k, v); err != nil {
				t.Fatalf("Put(%q): %v", k, err)
			}
		}
		if err := b.Put(ctx, "account/alice", []byte("two")); err != nil {
			t.Fatal(err)
		}
		vals["account/alice"] = []byte("two")
		for k, want := range vals {
			got, ok, err := b.Get(ctx, k)
			if err != nil || !ok || !bytes.Equal(got, want) {
				t.Errorf("Get(%q) = %q, %v, %v; want %q", k, got, ok, err, want)
			}
		}
		ks, err := b.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != len(vals) {
			t.Errorf("Keys = %q, want %d keys", ks, len(vals))
		}
		for _, k := range ks {
			if _, ok := vals[k]; !ok {
				t.Errorf("Keys has unexpected %q", k)
			}
		}
		if err := b.Delete(ctx, "account/bob"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.Get(ctx, "account/bob"); ok {
			t.Error("deleted key still present")
		}
		// Values returned belong to the caller.
		got, _, _ := b.Get(ctx, "account/alice")
		got[0] = 'X'
		again, _, _ := b.Get(ctx, "account/alice")
		if string(again) != "two" {
			t.Errorf("mutating a returned value changed the stored one: %q", again)
		}
	})
}

func TestVectorImportExport(t *testing.T) {
	vk := testKey()
	if len(vk.wif) != 52 {
		t.Fatalf("vector WIF %q is not 52 characters", vk.wif)
	}
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		if err := s.Import(ctx, "gotest", vk.wif, "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Export(ctx, "gotest", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		if got != vk.wif {
			t.Fatalf("Export = %q, want %q", got, vk.wif)
		}
		info, err := s.Account(ctx, "gotest")
		if err != nil {
			t.Fatal(err)
		}
		want := AccountInfo{User: "gotest", PubKey: vk.pubHex, Created: testNow, KDF: testKDF}
		if info != want {
			t.Errorf("Account = %+v, want %+v", info, want)
		}
		ss, err := s.Unlock(ctx, "gotest", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		if ss.User() != "gotest" || ss.PubKey().Hex() != vk.pubHex {
			t.Errorf("session is %q %s", ss.User(), ss.PubKey().Hex())
		}
		msg := []byte(vectors.Str(vectors.Derived(), "derived_by_spec", "compact_signature", "message"))
		pub, _ := keys.ParsePubKeyHex(vk.pubHex)
		if err := keys.Verify(msg, ss.Sign(msg), pub); err != nil {
			t.Errorf("session signature does not verify against the vector key: %v", err)
		}
		h := keys.MagicHash(msg)
		sig, err := ss.SignHash(h[:])
		if err != nil || keys.Verify(msg, sig, pub) != nil {
			t.Errorf("SignHash: %v", err)
		}
		k, err := ss.Key()
		if err != nil || k.Secret() != vk.wif || hex.EncodeToString(k.Bytes()) != vk.privHex {
			t.Errorf("Session.Key = %v, %v", k, err)
		}
		// White space around a pasted key is ignored.
		if err := s.Import(ctx, "gotest2", "  "+vk.wif+"\n", "pw"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Export(ctx, "gotest2", "pw"); got != vk.wif {
			t.Errorf("Export(gotest2) = %q", got)
		}
	})
}

func TestUncompressedKeyKept(t *testing.T) {
	ctx := context.Background()
	priv, _ := hex.DecodeString(testKey().privHex)
	k, err := keys.PrivateKeyFromBytes(priv, false)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, NewMemBackend())
	if err := s.Import(ctx, "old", k.Secret(), "pw"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Export(ctx, "old", "pw")
	if err != nil || got != k.Secret() {
		t.Fatalf("Export = %q, %v; want %q", got, err, k.Secret())
	}
	info, _ := s.Account(ctx, "old")
	if info.PubKey != k.PubKey().Hex() || len(info.PubKey) != 130 {
		t.Errorf("PubKey = %s", info.PubKey)
	}
}

func TestCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		k, err := s.Create(ctx, "alice", "pw1")
		if err != nil {
			t.Fatal(err)
		}
		if !k.Compressed() || len(k.Secret()) != 52 {
			t.Errorf("new key: compressed %v, secret %d chars", k.Compressed(), len(k.Secret()))
		}
		if _, ok := s.Session("alice"); ok {
			t.Error("Create unlocked the account")
		}
		got, err := s.Export(ctx, "alice", "pw1")
		if err != nil || got != k.Secret() {
			t.Fatalf("Export = %q, %v", got, err)
		}
		ss, err := s.Unlock(ctx, "alice", "pw1")
		if err != nil || !ss.PubKey().Equal(k.PubKey()) {
			t.Fatalf("Unlock: %v", err)
		}
		before := rawRecord(t, b, "alice")
		if _, err := s.Create(ctx, "alice", "pw2"); !errors.Is(err, ErrExists) {
			t.Errorf("second Create: %v, want ErrExists", err)
		}
		if err := s.Import(ctx, "alice", testKey().wif, "pw2"); !errors.Is(err, ErrExists) {
			t.Errorf("Import over existing: %v, want ErrExists", err)
		}
		if !bytes.Equal(before, rawRecord(t, b, "alice")) {
			t.Error("refused Create/Import changed the record")
		}
		k2, err := s.Create(ctx, "bob", "pw1")
		if err != nil {
			t.Fatal(err)
		}
		if k2.PubKey().Equal(k.PubKey()) {
			t.Error("two Creates made the same key")
		}
		// A second Store over the same backend (another tab, a restart)
		// sees the accounts.
		s2 := openStore(t, b)
		if got, err := s2.Export(ctx, "bob", "pw1"); err != nil || got != k2.Secret() {
			t.Errorf("second store Export = %q, %v", got, err)
		}
	})
}

func TestWrongPassphrase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		if err := s.Import(ctx, "gotest", testKey().wif, "right"); err != nil {
			t.Fatal(err)
		}
		before := rawRecord(t, b, "gotest")
		for _, pw := range []string{"wrong", "Right", "right ", ""} {
			_, err := s.Unlock(ctx, "gotest", pw)
			if !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrCorrupt) {
				t.Errorf("Unlock(%q) = %v, want ErrWrongPassphrase", pw, err)
			}
			if err != nil && (!strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), `"gotest"`)) {
				t.Errorf("message %q should say wrong passphrase and name the account", err)
			}
		}
		if _, err := s.Export(ctx, "gotest", "wrong"); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("Export: %v", err)
		}
		if err := s.ChangePassphrase(ctx, "gotest", "wrong", "new"); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("ChangePassphrase: %v", err)
		}
		if _, ok := s.Session("gotest"); ok {
			t.Error("a session exists after failed unlocks")
		}
		if !bytes.Equal(before, rawRecord(t, b, "gotest")) {
			t.Error("failed attempts changed the record")
		}
		if _, err := s.Unlock(ctx, "gotest", "right"); err != nil {
			t.Errorf("right passphrase after wrong ones: %v", err)
		}
		if _, err := s.Unlock(ctx, "nobody", "right"); !errors.Is(err, ErrNoAccount) {
			t.Errorf("Unlock(nobody) = %v, want ErrNoAccount", err)
		}
	})
}

func TestChangePassphrase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		vk := testKey()
		if err := s.Import(ctx, "gotest", vk.wif, "old pass"); err != nil {
			t.Fatal(err)
		}
		if err := s.ChangePassphrase(ctx, "gotest", "old pass", ""); !errors.Is(err, ErrEmptyPassphrase) {
			t.Errorf("empty new passphrase: %v", err)
		}
		if err := s.ChangePassphrase(ctx, "gotest", "old pass", "new pass"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Unlock(ctx, "gotest", "old pass"); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("old passphrase still works: %v", err)
		}
		if got, err := s.Export(ctx, "gotest", "new pass"); err != nil || got != vk.wif {
			t.Errorf("Export with new passphrase = %q, %v", got, err)
		}
		// Raising the parameters: a store configured with more work
		// rewrites the record with them, keeping the creation time.
		later := time.Unix(1800000000, 0)
		stronger := KDFParams{LogN: MinLogN + 1, R: 8, P: 2}
		s2, err := OpenWith(ctx, b, Options{KDF: stronger, Now: func() time.Time { return later }})
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := s2.Account(ctx, "gotest"); info.KDF != testKDF {
			t.Fatalf("KDF before = %v", info.KDF)
		}
		if err := s2.ChangePassphrase(ctx, "gotest", "new pass", "new pass"); err != nil {
			t.Fatal(err)
		}
		info, err := s2.Account(ctx, "gotest")
		if err != nil || info.KDF != stronger || !info.Created.Equal(testNow) {
			t.Errorf("after raising: %+v, %v", info, err)
		}
		if got, err := s.Export(ctx, "gotest", "new pass"); err != nil || got != vk.wif {
			t.Errorf("Export after raising = %q, %v", got, err)
		}
	})
}

func TestChangePassphraseRefusesConcurrentChange(t *testing.T) {
	// The stored record changes between reading and writing: nothing is
	// written. racyBackend swaps the record on the first Get after the
	// new record has been sealed.
	ctx := context.Background()
	mem := NewMemBackend()
	s := openStore(t, mem)
	if err := s.Import(ctx, "gotest", testKey().wif, "a"); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, NewMemBackend())
	if _, err := other.Create(ctx, "gotest", "b"); err != nil {
		t.Fatal(err)
	}
	swapped := rawRecord(t, other.b, "gotest")
	rb := &racyBackend{Backend: mem, swapOnGet: 2, key: recordKey("gotest"), val: swapped}
	s.b = rb
	err := s.ChangePassphrase(ctx, "gotest", "a", "c")
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("ChangePassphrase over a concurrent change = %v", err)
	}
	if !bytes.Equal(rawRecord(t, mem, "gotest"), swapped) {
		t.Error("the concurrently written record was overwritten")
	}
}

type racyBackend struct {
	Backend
	gets, swapOnGet int
	key             string
	val             []byte
}

func (r *racyBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	r.gets++
	if r.gets == r.swapOnGet {
		if err := r.Backend.Put(ctx, r.key, r.val); err != nil {
			return nil, false, err
		}
	}
	return r.Backend.Get(ctx, key)
}

// failingBackend fails every Put: the old record must keep working.
type failingBackend struct{ Backend }

func (failingBackend) Put(context.Context, string, []byte) error {
	return errors.New("disk full")
}

func TestChangePassphraseFailedWriteKeepsOld(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBackend()
	s := openStore(t, mem)
	if err := s.Import(ctx, "gotest", testKey().wif, "a"); err != nil {
		t.Fatal(err)
	}
	s.b = failingBackend{mem}
	if err := s.ChangePassphrase(ctx, "gotest", "a", "b"); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("ChangePassphrase = %v, want the write error", err)
	}
	if got, err := s.Export(ctx, "gotest", "a"); err != nil || got != testKey().wif {
		t.Errorf("old passphrase after failed change: %q, %v", got, err)
	}
}

func TestSeveralAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		users := []string{"carol", "alice", "bob_2", "gotest"}
		pubs := map[string]string{}
		for _, u := range users {
			if u == "gotest" {
				if err := s.Import(ctx, u, testKey().wif, "pw-"+u); err != nil {
					t.Fatal(err)
				}
				pubs[u] = testKey().pubHex
				continue
			}
			k, err := s.Create(ctx, u, "pw-"+u)
			if err != nil {
				t.Fatal(err)
			}
			pubs[u] = k.PubKey().Hex()
		}
		// Something else in the same backend is not an account.
		if err := b.Put(ctx, "settings/theme", []byte("dark")); err != nil {
			t.Fatal(err)
		}
		infos, err := s.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range infos {
			names = append(names, in.User)
			if in.Err != nil || in.PubKey != pubs[in.User] || in.KDF != testKDF {
				t.Errorf("Accounts entry %+v", in)
			}
		}
		if strings.Join(names, ",") != "alice,bob_2,carol,gotest" {
			t.Errorf("Accounts = %v", names)
		}
		for _, u := range users {
			ss, err := s.Unlock(ctx, u, "pw-"+u)
			if err != nil || ss.PubKey().Hex() != pubs[u] {
				t.Errorf("Unlock(%s): %v", u, err)
			}
			other := "pw-alice"
			if u == "alice" {
				other = "pw-bob_2"
			}
			if _, err := s.Unlock(ctx, u, other); !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("Unlock(%s) with another account's passphrase: %v", u, err)
			}
		}
		// Each session signs with its own key.
		a, _ := s.Session("alice")
		c, _ := s.Session("carol")
		msg := []byte("hello")
		if keys.Verify(msg, a.Sign(msg), c.PubKey()) == nil {
			t.Error("alice's signature verifies as carol's")
		}
		s.LockAll()
		if !a.Locked() || !c.Locked() {
			t.Error("LockAll left sessions unlocked")
		}
	})
}

// corruptions returns named damaged versions of a good record; other is
// a valid record of another account.
func corruptions(good, other []byte) map[string][]byte {
	m := map[string][]byte{
		"empty":              {},
		"null":               []byte("null"),
		"empty object":       []byte("{}"),
		"array":              []byte("[1,2,3]"),
		"garbage":            []byte("\x00\xff garbage \x13\x37"),
		"version only":       []byte(`{"v":1}`),
		"future version":     bytes.Replace(good, []byte(`{"v":1,`), []byte(`{"v":2,`), 1),
		"other account":      other,
		"unknown field":      append(bytes.TrimSuffix(append([]byte{}, good...), []byte("}")), []byte(`,"x":1}`)...),
		"trailing data":      append(append([]byte{}, good...), []byte(" {}")...),
		"pretty printed":     bytes.ReplaceAll(good, []byte(`,"`), []byte(`, "`)),
		"uppercase field":    bytes.Replace(good, []byte(`"user"`), []byte(`"User"`), 1),
		"doubled":            append(append([]byte{}, good...), good...),
		"huge":               bytes.Repeat([]byte("x"), MaxRecordSize+1),
		"no closing brace":   good[:len(good)-1],
		"key in place of ct": bytes.Replace(good, []byte(`"ct":"`), []byte(`"ct":"AA`), 1),
	}
	for i := 0; i < len(good); i++ {
		for _, x := range []byte{0x01, 0x80, 0x20} {
			b := append([]byte{}, good...)
			b[i] ^= x
			m[fmt.Sprintf("byte %d xor %#x", i, x)] = b
		}
		m[fmt.Sprintf("truncated to %d", i)] = good[:i]
	}
	return m
}

func TestCorruptRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		for _, u := range []string{"alice", "bob", "carol"} {
			if _, err := s.Create(ctx, u, "pw-"+u); err != nil {
				t.Fatal(err)
			}
		}
		good := rawRecord(t, b, "bob")
		other := rawRecord(t, b, "alice")
		alice := rawRecord(t, b, "alice")
		carol := rawRecord(t, b, "carol")
		bad := corruptions(good, other)
		n := 0
		for name, rec := range bad {
			if err := b.Put(ctx, recordKey("bob"), rec); err != nil {
				t.Fatal(err)
			}
			_, err := s.Account(ctx, "bob")
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Account(bob) = %v, want ErrCorrupt", name, err)
				continue
			}
			if !strings.Contains(err.Error(), `"bob"`) {
				t.Errorf("%s: error %q does not name the account", name, err)
			}
			// The expensive paths only for a sample: they fail before
			// any key derivation anyway.
			if n++; n%97 != 0 && !strings.Contains(name, "xor 0x80") {
				continue
			}
			if _, err := s.Unlock(ctx, "bob", "pw-bob"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Unlock(bob) = %v, want ErrCorrupt", name, err)
			}
		}
		// Leave one corrupt record in place and check that nothing else is
		// lost and the corrupt one is not overwritten by accident.
		damaged := bad["byte 40 xor 0x1"]
		if err := b.Put(ctx, recordKey("bob"), damaged); err != nil {
			t.Fatal(err)
		}
		for _, op := range []struct {
			name string
			err  error
			want error
		}{
			{"Unlock", func() error { _, err := s.Unlock(ctx, "bob", "pw-bob"); return err }(), ErrCorrupt},
			{"Export", func() error { _, err := s.Export(ctx, "bob", "pw-bob"); return err }(), ErrCorrupt},
			{"ChangePassphrase", s.ChangePassphrase(ctx, "bob", "pw-bob", "x"), ErrCorrupt},
			{"Create", func() error { _, err := s.Create(ctx, "bob", "x"); return err }(), ErrExists},
			{"Import", s.Import(ctx, "bob", testKey().wif, "x"), ErrExists},
		} {
			if !errors.Is(op.err, op.want) {
				t.Errorf("%s on corrupt record = %v, want %v", op.name, op.err, op.want)
			}
		}
		if !bytes.Equal(rawRecord(t, b, "bob"), damaged) {
			t.Error("the corrupt record was overwritten")
		}
		if !bytes.Equal(rawRecord(t, b, "alice"), alice) || !bytes.Equal(rawRecord(t, b, "carol"), carol) {
			t.Error("other records changed")
		}
		infos, err := s.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 3 {
			t.Fatalf("Accounts lists %d accounts, want 3", len(infos))
		}
		for _, in := range infos {
			if (in.User == "bob") != errors.Is(in.Err, ErrCorrupt) {
				t.Errorf("Accounts entry %s: Err = %v", in.User, in.Err)
			}
		}
		for _, u := range []string{"alice", "carol"} {
			if _, err := s.Unlock(ctx, u, "pw-"+u); err != nil {
				t.Errorf("Unlock(%s) next to a corrupt record: %v", u, err)
			}
		}
		// The explicit way out: delete, then the name is free again.
		if err := s.Delete(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "bob", "pw-new"); err != nil {
			t.Errorf("Create after deleting the corrupt record: %v", err)
		}
	})
}

func TestHeaderIsAuthenticated(t *testing.T) {
	// Someone who edits a field and recomputes the checksum does not get
	// the key to unlock: every header field is associated data.
	ctx := context.Background()
	mem := NewMemBackend()
	s := openStore(t, mem)
	if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		t.Fatal(err)
	}
	r, err := decodeRecord(rawRecord(t, mem, "gotest"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keys.GenerateKey()
	edits := map[string]func(r *record){
		"created": func(r *record) { r.Created++ },
		"pub":     func(r *record) { r.Pub = other.PubKey() },
		"r":       func(r *record) { r.KDF.R = 4 },
		"p":       func(r *record) { r.KDF.P = 2 },
	}
	for name, edit := range edits {
		c := *r
		edit(&c)
		if err := mem.Put(ctx, recordKey("gotest"), c.encode()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Unlock(ctx, "gotest", "pw"); err == nil {
			t.Errorf("record with edited %s unlocked", name)
		}
	}
	// Moving a record to another name is caught without a passphrase.
	if err := mem.Put(ctx, recordKey("mallory"), r.encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx, "mallory"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("record under another name: %v", err)
	}
	// Renaming inside the record too: the AEAD refuses it.
	c := *r
	c.User = "mallory"
	if err := mem.Put(ctx, recordKey("mallory"), c.encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlock(ctx, "mallory", "pw"); err == nil {
		t.Error("renamed record unlocked")
	}
}

func TestNoPlaintextAtRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		vk := testKey()
		priv, _ := hex.DecodeString(vk.privHex)
		const pass = "Tr0ub4dor&3 horse"
		if err := s.Import(ctx, "gotest", vk.wif, pass); err != nil {
			t.Fatal(err)
		}
		created, err := s.Create(ctx, "alice", pass)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ChangePassphrase(ctx, "gotest", pass, pass+"2"); err != nil {
			t.Fatal(err)
		}
		secrets := func(k []byte, wif string) [][]byte {
			payload := append(append([]byte{keys.SecretVersion}, k...), 1)
			return [][]byte{
				k, []byte(wif),
				[]byte(hex.EncodeToString(k)), []byte(strings.ToUpper(hex.EncodeToString(k))),
				[]byte(base64.StdEncoding.EncodeToString(k)), []byte(base64.RawURLEncoding.EncodeToString(k)),
				[]byte(base64.StdEncoding.EncodeToString(payload)), payload,
				k[:16], k[16:],
			}
		}
		forbidden := append(secrets(priv, vk.wif), secrets(created.Bytes(), created.Secret())...)
		ks, err := b.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 {
			t.Fatalf("backend has %d keys: %q", len(ks), ks)
		}
		for _, k := range ks {
			raw, _, err := b.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range forbidden {
				if bytes.Contains(raw, f) {
					t.Errorf("record %q contains secret material %x", k, f)
				}
			}
			if bytes.Contains(raw, []byte("Tr0ub4dor")) {
				t.Errorf("record %q contains the passphrase", k)
			}
		}
	})
}

func TestDeleteAndLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		s := openStore(t, b)
		if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "alice", "pw"); err != nil {
			t.Fatal(err)
		}
		ss, err := s.Unlock(ctx, "gotest", "pw")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Unlock(ctx, "gotest", "pw")
		if err != nil || again != ss {
			t.Errorf("second Unlock gave another session (%v)", err)
		}
		kept, err := ss.Key()
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := dm.Encrypt(ss.PubKey(), []byte("secret note"))
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := ss.Decrypt(sealed); err != nil || string(pt) != "secret note" {
			t.Errorf("Decrypt = %q, %v", pt, err)
		}
		s.Lock("gotest")
		if !ss.Locked() {
			t.Error("session not locked")
		}
		if _, ok := s.Session("gotest"); ok {
			t.Error("Session still returns a locked session")
		}
		if sig := ss.Sign([]byte("m")); sig != nil {
			t.Error("locked session signed")
		}
		if _, err := ss.TrySign([]byte("m")); !errors.Is(err, ErrLocked) {
			t.Errorf("TrySign = %v", err)
		}
		if _, err := ss.SignHash(make([]byte, 32)); !errors.Is(err, ErrLocked) {
			t.Errorf("SignHash = %v", err)
		}
		if _, err := ss.Decrypt(sealed); !errors.Is(err, ErrLocked) {
			t.Errorf("Decrypt = %v", err)
		}
		if _, err := ss.Key(); !errors.Is(err, ErrLocked) {
			t.Errorf("Key = %v", err)
		}
		if ss.PubKey().Hex() != testKey().pubHex {
			t.Error("PubKey lost on Lock")
		}
		// A copy taken before Lock is independent of the wiped key.
		if kept.Secret() != testKey().wif {
			t.Error("Lock wiped a copy handed out by Key")
		}

		ss, _ = s.Unlock(ctx, "gotest", "pw")
		if err := s.Delete(ctx, "gotest"); err != nil {
			t.Fatal(err)
		}
		if !ss.Locked() {
			t.Error("Delete left the session unlocked")
		}
		if _, err := s.Unlock(ctx, "gotest", "pw"); !errors.Is(err, ErrNoAccount) {
			t.Errorf("Unlock after Delete = %v", err)
		}
		if err := s.Delete(ctx, "gotest"); !errors.Is(err, ErrNoAccount) {
			t.Errorf("second Delete = %v", err)
		}
		if _, err := s.Account(ctx, "gotest"); !errors.Is(err, ErrNoAccount) {
			t.Errorf("Account after Delete = %v", err)
		}
		infos, _ := s.Accounts(ctx)
		if len(infos) != 1 || infos[0].User != "alice" {
			t.Errorf("Accounts after Delete = %+v", infos)
		}
		if _, err := s.Unlock(ctx, "alice", "pw"); err != nil {
			t.Errorf("other account after Delete: %v", err)
		}
	})
}

func TestImportRefusesMalformedKeys(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBackend()
	s := openStore(t, mem)
	wif := testKey().wif
	priv, _ := hex.DecodeString(testKey().privHex)
	last := wif[len(wif)-1]
	swap := byte('a')
	if last == 'a' {
		swap = 'b'
	}
	for _, c := range []struct {
		name, secret string
		want         error
	}{
		{"checksum", wif[:len(wif)-1] + string(swap), keys.ErrSecretChecksum},
		{"base58", "0" + wif[1:], keys.ErrBase58},
		{"truncated", wif[:51], keys.ErrSecretChecksum},
		{"short payload", keys.EncodeBase58Check(append([]byte{0x80}, priv[:16]...)), keys.ErrSecretLength},
		{"bad compression flag", keys.EncodeBase58Check(append(append([]byte{0x80}, priv...), 2)), keys.ErrSecretLength},
		{"empty", "", keys.ErrSecretLength},
		{"testnet version", keys.EncodeBase58Check(append(append([]byte{0xef}, priv...), 1)), keys.ErrSecretVersion},
		{"zero key", keys.EncodeBase58Check(append(append([]byte{0x80}, make([]byte, 32)...), 1)), keys.ErrSecretRange},
	} {
		err := s.Import(ctx, "gotest", c.secret, "pw")
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Import = %v, want %v", c.name, err, c.want)
		}
	}
	if ks, _ := mem.Keys(ctx); len(ks) != 0 {
		t.Errorf("refused imports stored %q", ks)
	}
}

func TestBadArguments(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, NewMemBackend())
	for _, u := range []string{"", "Alice", "a b", "seventeen_chars_x", "ünï", "a/b", "../x"} {
		if _, err := s.Create(ctx, u, "pw"); !errors.Is(err, ErrBadUsername) {
			t.Errorf("Create(%q) = %v, want ErrBadUsername", u, err)
		}
		if _, err := s.Unlock(ctx, u, "pw"); !errors.Is(err, ErrBadUsername) {
			t.Errorf("Unlock(%q) = %v, want ErrBadUsername", u, err)
		}
		if err := s.Delete(ctx, u); !errors.Is(err, ErrBadUsername) {
			t.Errorf("Delete(%q) = %v", u, err)
		}
	}
	if _, err := s.Create(ctx, "sixteen_chars_ok", "pw"); err != nil {
		t.Errorf("16-character name: %v", err)
	}
	if _, err := s.Create(ctx, "alice", ""); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: %v", err)
	}
	if err := s.Import(ctx, "alice", testKey().wif, ""); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: %v", err)
	}
	for _, p := range []KDFParams{{LogN: 9, R: 8, P: 1}, {LogN: 21, R: 8, P: 1}, {LogN: 16, R: 0, P: 1}, {LogN: 16, R: 8, P: 17}, {LogN: 20, R: 16, P: 1}} {
		if _, err := OpenWith(ctx, NewMemBackend(), Options{KDF: p}); err == nil {
			t.Errorf("OpenWith accepted KDF %v", p)
		}
	}
	if _, err := Open(ctx, nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(cctx, "bob", "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with canceled context = %v", err)
	}
}

func TestDefaultKDF(t *testing.T) {
	if DefaultKDF.Validate() != nil || DefaultKDF.Memory() != 64<<20 {
		t.Fatalf("DefaultKDF %v: %v, %d bytes", DefaultKDF, DefaultKDF.Validate(), DefaultKDF.Memory())
	}
	ctx := context.Background()
	s, err := Open(ctx, NewMemBackend())
	if err != nil {
		t.Fatal(err)
	}
	if s.KDF() != DefaultKDF {
		t.Errorf("Open uses %v", s.KDF())
	}
	if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		t.Fatal(err)
	}
	info, err := s.Account(ctx, "gotest")
	if err != nil || info.KDF != DefaultKDF {
		t.Fatalf("record KDF %v, %v", info.KDF, err)
	}
	start := time.Now()
	if _, err := s.Unlock(ctx, "gotest", "pw"); err != nil {
		t.Fatal(err)
	}
	t.Logf("Unlock with %v took %v", DefaultKDF, time.Since(start))
}

func TestConcurrentUse(t *testing.T) {
	// Sessions sign while others lock and unlock; run with -race.
	ctx := context.Background()
	s := openStore(t, NewMemBackend())
	if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		t.Fatal(err)
	}
	pub, _ := keys.ParsePubKeyHex(testKey().pubHex)
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 10; i++ {
				ss, err := s.Unlock(ctx, "gotest", "pw")
				if err != nil {
					done <- err
					return
				}
				msg := []byte(fmt.Sprintf("msg %d %d", g, i))
				if sig, err := ss.TrySign(msg); err == nil {
					if err := keys.Verify(msg, sig, pub); err != nil {
						done <- fmt.Errorf("signature made during concurrent use: %w", err)
						return
					}
				} else if !errors.Is(err, ErrLocked) {
					done <- err
					return
				}
				if i%3 == g%3 {
					s.Lock("gotest")
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
