package keys

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/gotwister/twister/internal/vectors"
)

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func TestVectorKey(t *testing.T) {
	d := vectors.Derived()
	wif := vectors.Str(d, "derived_by_spec", "test_key", "wif_compressed")
	k, err := ParseSecret(wif)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(k.Bytes()); got != vectors.Str(d, "derived_by_spec", "test_key", "priv_hex") {
		t.Fatalf("priv = %s", got)
	}
	if k.Secret() != wif {
		t.Fatalf("secret = %s", k.Secret())
	}
	if k.PubKey().Hex() != vectors.Str(d, "derived_by_spec", "test_key", "pubkey_compressed_hex") {
		t.Fatalf("pub = %s", k.PubKey().Hex())
	}
	id := k.PubKey().ID()
	if hex.EncodeToString(id[:]) != vectors.Str(d, "derived_by_spec", "test_key", "keyid_hash160_hex") {
		t.Fatalf("id = %x", id)
	}
	unc, _ := PrivateKeyFromBytes(k.Bytes(), false)
	if unc.PubKey().Hex() != vectors.Str(d, "derived_by_spec", "test_key", "pubkey_uncompressed_hex") {
		t.Fatalf("uncompressed pub = %s", unc.PubKey().Hex())
	}
	if len(unc.Secret()) != 51 {
		t.Fatalf("uncompressed secret length %d", len(unc.Secret()))
	}
	back, err := ParseSecret(unc.Secret())
	if err != nil || back.Compressed() {
		t.Fatalf("uncompressed round trip: %v", err)
	}
	// Both daemon keys.
	v := vectors.Verified()
	for _, name := range []string{"gotest", "gotest2"} {
		k, err := ParseSecret(vectors.Str(v, "_about", "keys", name, "wif"))
		if err != nil {
			t.Fatal(err)
		}
		if k.PubKey().Hex() != vectors.Str(v, "_about", "keys", name, "pubkey") {
			t.Fatalf("%s pub = %s", name, k.PubKey().Hex())
		}
		if hex.EncodeToString(k.Bytes()) != vectors.Str(v, "_about", "keys", name, "priv_hex") {
			t.Fatalf("%s priv", name)
		}
	}
}

func TestSecretErrors(t *testing.T) {
	good := "L4uxgQMmgWU6vZsVBunvF1Nu9A9HRKeLHq3NQagVr3hYhjwBgR7z"
	// Flip one character: checksum fails.
	bad := []byte(good)
	bad[10] = 'a'
	if _, err := ParseSecret(string(bad)); !errors.Is(err, ErrSecretChecksum) {
		t.Errorf("checksum: %v", err)
	}
	// Wrong version byte (testnet 0xef).
	k, _ := ParseSecret(good)
	payload := append([]byte{0xef}, k.Bytes()...)
	payload = append(payload, 1)
	if _, err := ParseSecret(EncodeBase58Check(payload)); !errors.Is(err, ErrSecretVersion) {
		t.Errorf("version: %v", err)
	}
	// Wrong length.
	short := append([]byte{0x80}, k.Bytes()[:20]...)
	if _, err := ParseSecret(EncodeBase58Check(short)); !errors.Is(err, ErrSecretLength) {
		t.Errorf("length: %v", err)
	}
	if _, err := ParseSecret("0OIl"); !errors.Is(err, ErrBase58) {
		t.Errorf("alphabet: %v", err)
	}
	if _, err := ParseSecret(""); !errors.Is(err, ErrSecretLength) {
		t.Errorf("empty: %v", err)
	}
	zero := append([]byte{0x80}, make([]byte, 32)...)
	if _, err := ParseSecret(EncodeBase58Check(append(zero, 1))); !errors.Is(err, ErrSecretRange) {
		t.Errorf("zero key: %v", err)
	}
}

func TestMagicHash(t *testing.T) {
	d := vectors.Derived()
	msg := vectors.Str(d, "derived_by_spec", "magic_hash", "message")
	h := MagicHash([]byte(msg))
	if hex.EncodeToString(h[:]) != vectors.Str(d, "derived_by_spec", "magic_hash", "sha256d_raw") {
		t.Fatalf("magic hash %x", h)
	}
	v := vectors.Verified()
	if hex.EncodeToString(reverse(h[:])) != vectors.Str(v, "testvector_rpc", "run1", "hash") {
		t.Fatal("daemon's testvector hash differs")
	}
	// hashMagic = SHA256d of the serialized magic string alone.
	hm := SHA256d(append(AppendVarInt(nil, uint64(len(MessageMagic))), MessageMagic...))
	if hex.EncodeToString(reverse(hm[:])) != vectors.Str(v, "testvector_rpc", "run1", "hashMagic") {
		t.Fatal("hashMagic differs")
	}
}

func TestSignatures(t *testing.T) {
	d := vectors.Derived()
	v := vectors.Verified()
	k, _ := ParseSecret(vectors.Str(v, "_about", "keys", "gotest", "wif"))
	k2, _ := ParseSecret(vectors.Str(v, "_about", "keys", "gotest2", "wif"))
	msg := []byte("The quick brown fox jumps over the lazy dog")
	sigs := [][]byte{
		vectors.Hex(d, "derived_by_spec", "compact_signature", "sig65_hex"),
		vectors.Hex(v, "testvector_rpc", "run1", "sign"),
		vectors.Hex(v, "testvector_rpc", "run2", "sign"),
	}
	for _, b64 := range []string{
		vectors.Str(v, "derived_checks", "compact_signature", "base64"),
		vectors.Str(v, "testvector_rpc", "signmessage_gotest_fox_base64"),
	} {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, b)
	}
	for i, sig := range sigs {
		if err := Verify(msg, sig, k.PubKey()); err != nil {
			t.Errorf("sig %d: %v", i, err)
		}
		if err := Verify(msg, sig, k2.PubKey()); !errors.Is(err, ErrWrongSigner) {
			t.Errorf("sig %d verified for the wrong key: %v", i, err)
		}
		flipped := append([]byte{}, sig...)
		flipped[40] ^= 1
		if err := Verify(msg, flipped, k.PubKey()); err == nil {
			t.Errorf("sig %d: flipped byte verified", i)
		}
		if err := Verify([]byte("The quick brown fox jumps over the lazy cat"), sig, k.PubKey()); err == nil {
			t.Errorf("sig %d: other message verified", i)
		}
	}
	// Our own signatures.
	for i := 0; i < 20; i++ {
		m := []byte{byte(i), 'x'}
		sig := k.Sign(m)
		if len(sig) != 65 || sig[0] < 31 || sig[0] > 34 {
			t.Fatalf("header %d", sig[0])
		}
		if err := Verify(m, sig, k.PubKey()); err != nil {
			t.Fatal(err)
		}
	}
	// Compression flag must match the registered encoding.
	unc, _ := PrivateKeyFromBytes(k.Bytes(), false)
	if err := Verify(msg, unc.Sign(msg), k.PubKey()); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("uncompressed sig accepted for compressed key: %v", err)
	}
	if _, err := Recover(msg, sigs[0][:64]); !errors.Is(err, ErrBadSignature) {
		t.Fatal("short signature accepted")
	}
	r3 := append([]byte{}, sigs[0]...)
	r3[0] = 27 + 4 + 3
	if _, err := Recover(msg, r3); !errors.Is(err, ErrBadSignature) {
		t.Fatal("recid 3 accepted")
	}
}

func TestResolver(t *testing.T) {
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	r := StaticResolver{"alice": {{Height: 5, Key: a.PubKey()}, {Height: 20, Key: b.PubKey()}}}
	m := []byte("hello")
	if err := VerifyUser(r, "alice", 10, m, a.Sign(m)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyUser(r, "alice", 10, m, b.Sign(m)); err == nil {
		t.Fatal("new key accepted before its height")
	}
	if err := VerifyUser(r, "alice", 25, m, b.Sign(m)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyUser(r, "alice", -1, m, b.Sign(m)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyUser(r, "alice", 2, m, a.Sign(m)); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("before registration: %v", err)
	}
	if err := VerifyUser(r, "bob", -1, m, a.Sign(m)); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown: %v", err)
	}
}

var benchMsg = []byte("d6:heighti100e1:ki1e3:msg11:hello world1:n6:gotest4:timei1400000000ee")

func BenchmarkSign(b *testing.B) {
	k, _ := GenerateKey()
	for b.Loop() {
		k.Sign(benchMsg)
	}
}

func BenchmarkVerifyByRecovery(b *testing.B) {
	k, _ := GenerateKey()
	sig := k.Sign(benchMsg)
	pub := k.PubKey()
	for b.Loop() {
		// The recovery path alone: Verify would answer repeats from its
		// cache of verified triples (see BenchmarkVerifyTimeline).
		if err := verifyByRecovery(benchMsg, sig, pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareRecoverCompact is the library's curve operation alone, the
// yardstick the verify path is compared with.
func BenchmarkBareRecoverCompact(b *testing.B) {
	k, _ := GenerateKey()
	sig := k.Sign(benchMsg)
	h := MagicHash(benchMsg)
	for b.Loop() {
		if _, _, err := ecdsa.RecoverCompact(sig, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}
