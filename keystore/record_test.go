package keystore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/keys"
)

// goldenRand is the fixed "randomness" of the golden record: salt 0x00..0x0f,
// nonce 0x10..0x27.
func goldenRand() *bytes.Reader {
	b := make([]byte, saltSize+24)
	for i := range b {
		b[i] = byte(i)
	}
	return bytes.NewReader(b)
}

const goldenPassphrase = "correct horse battery staple"

// readSeed reads a file of Go's fuzz corpus format holding one []byte.
func readSeed(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s is not a one-value corpus file", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

// TestGoldenRecord pins the version 1 format: a record written by this
// package (in the seed corpus) must keep decoding and unlocking, and
// sealing the same key with the same salt and nonce must give the same
// bytes.
func TestGoldenRecord(t *testing.T) {
	golden := readSeed(t, "record_v1_gotest")
	r, err := decodeRecord(golden)
	if err != nil {
		t.Fatal(err)
	}
	vk := testKey()
	if r.User != "gotest" || r.Pub.Hex() != vk.pubHex || r.Created != 1700000000 || r.KDF != testKDF {
		t.Errorf("golden record decodes to %+v", r)
	}
	dk, err := deriveKey(goldenPassphrase, r.KDF, r.Salt)
	if err != nil {
		t.Fatal(err)
	}
	k, err := r.open(dk)
	if err != nil || k.Secret() != vk.wif {
		t.Fatalf("golden record opens to %v, %v", k, err)
	}
	again, err := sealRecord(k, "gotest", goldenPassphrase, testKDF, testNow, goldenRand())
	if err != nil {
		t.Fatal(err)
	}
	if got := again.encode(); !bytes.Equal(got, golden) {
		t.Errorf("sealing again gives\n%s\nwant\n%s", got, golden)
	}
	// Through a Store, from the backend.
	mem := NewMemBackend()
	if err := mem.Put(context.Background(), recordKey("gotest"), golden); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, mem)
	if got, err := s.Export(context.Background(), "gotest", goldenPassphrase); err != nil || got != vk.wif {
		t.Errorf("Export(golden) = %q, %v", got, err)
	}
	if _, err := s.Export(context.Background(), "gotest", "wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("golden record with a wrong passphrase: %v", err)
	}
}

func TestSeedCorpus(t *testing.T) {
	// Each seed decodes as its name says.
	valid := map[string]bool{"record_v1_gotest": true, "record_v1_uncompressed": true}
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 3 {
		t.Fatalf("only %d seeds", len(ents))
	}
	for _, e := range ents {
		_, err := decodeRecord(readSeed(t, e.Name()))
		if valid[e.Name()] != (err == nil) {
			t.Errorf("seed %s: decode error %v", e.Name(), err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzDecodeRecord.
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"user":"a","pub":"","created":0,"kdf":{"alg":"scrypt","logn":10,"r":8,"p":1,"salt":""},"aead":"xchacha20poly1305","nonce":"","ct":"","sum":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if r != nil {
				t.Fatal("record returned with an error")
			}
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("accepted a non-canonical record:\n%s\nre-encodes as\n%s", b, r.encode())
		}
		if r.KDF.Validate() != nil || checkUsername(r.User) != nil {
			t.Fatalf("accepted out-of-range fields: %+v", r)
		}
		if _, err := keys.ParsePubKey(r.Pub); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriteSeeds regenerates the seed corpus when KEYSTORE_WRITE_SEEDS=1;
// otherwise it is skipped.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("KEYSTORE_WRITE_SEEDS") != "1" {
		t.Skip("set KEYSTORE_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecodeRecord")
	}
	vk := testKey()
	k, _ := keys.ParseSecret(vk.wif)
	r, err := sealRecord(k, "gotest", goldenPassphrase, testKDF, testNow, goldenRand())
	if err != nil {
		t.Fatal(err)
	}
	good := r.encode()
	priv, _ := hex.DecodeString(vk.privHex)
	ku, _ := keys.PrivateKeyFromBytes(priv, false)
	ru, err := sealRecord(ku, "old", goldenPassphrase, testKDF, time.Unix(1400000000, 0), goldenRand())
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-5] ^= 1
	seeds := map[string][]byte{
		"record_v1_gotest":       good,
		"record_v1_uncompressed": ru.encode(),
		"future_version":         bytes.Replace(good, []byte(`{"v":1,`), []byte(`{"v":2,`), 1),
		"truncated":              good[:len(good)/2],
		"flipped_sum":            flipped,
		"pretty_printed":         bytes.ReplaceAll(good, []byte(`,"`), []byte(`, "`)),
		"not_json":               []byte("not json at all"),
		"empty_object":           []byte("{}"),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRecord")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
