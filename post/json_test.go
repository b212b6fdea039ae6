package post

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/internal/vectors"
)

// canonJSON marshals x (whose maps encode with sorted keys) for
// comparisons.
func canonJSON(t testing.TB, x any) string {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// useNumber re-decodes x with json.Number numbers, as an RPC server does.
func useNumber(t testing.TB, x any) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(canonJSON(t, x)))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func daemonPostNames(v map[string]any) []string {
	var names []string
	for name := range vectors.Path(v, "daemon_posts").(map[string]any) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestDaemonPostsJSON checks, for every post twisterd made, that the exact
// RPC JSON rebuilds the exact post bytes and that the post's JSON is the
// RPC JSON.
func TestDaemonPostsJSON(t *testing.T) {
	v := vectors.Verified()
	names := daemonPostNames(v)
	if len(names) < 9 {
		t.Fatalf("only %d daemon posts in the vectors", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			rpc := vectors.Path(v, "daemon_posts", name, "rpc_json")
			raw := vectors.Hex(v, "daemon_posts", name, "post_bencoded_hex")
			for _, in := range []any{rpc, useNumber(t, rpc)} {
				got, err := PostFromJSON(in)
				if err != nil {
					t.Fatalf("PostFromJSON: %v", err)
				}
				if enc := bencode.Encode(got); !bytes.Equal(enc, raw) {
					t.Fatalf("PostFromJSON encodes to\n%q\nwant\n%q", enc, raw)
				}
			}
			p, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := canonJSON(t, p.JSON()), canonJSON(t, rpc); got != want {
				t.Fatalf("PostToJSON:\n%s\nwant\n%s", got, want)
			}
			// ToJSON alone never hexcapes.
			if s, ok := ToJSON(p.Value).(map[string]any)["sig_userpost"].(string); !ok || s != string(p.SigUserpost) {
				t.Fatal("ToJSON must not hexcape")
			}
		})
	}
}

// TestTranscriptPostsJSON round-trips every post-shaped item the recorded
// getposts, getmentions and getfavs calls returned.
func TestTranscriptPostsJSON(t *testing.T) {
	calls := vectors.Transcript()["calls"].([]any)
	n := 0
	for _, c := range calls {
		call := c.(map[string]any)
		switch call["method"] {
		case "getposts", "getmentions", "getfavs", "newpostmsg", "newrtmsg", "newfavmsg", "newdirectmsg", "getspamposts":
		default:
			continue
		}
		var items []any
		switch r := call["result"].(type) {
		case []any:
			items = r
		case map[string]any:
			items = []any{r}
		default:
			continue
		}
		for _, it := range items {
			bv, err := PostFromJSON(it)
			if err != nil {
				t.Fatalf("%s: PostFromJSON: %v", call["method"], err)
			}
			if got, want := canonJSON(t, PostToJSON(bv)), canonJSON(t, it); got != want {
				t.Fatalf("%s: round trip\n%s\nwant\n%s", call["method"], got, want)
			}
			if sig, _ := bv.GetBytes("sig_userpost"); len(sig) > 0 {
				// A real post: strip the reader-added fields and decode.
				bv.Delete("id")
				bv.Delete("isPrivate")
				if _, err := Decode(bencode.Encode(bv)); err != nil {
					t.Fatalf("%s: rebuilt post does not decode: %v", call["method"], err)
				}
			}
			n++
		}
	}
	if n < 20 {
		t.Fatalf("only %d transcript items checked", n)
	}
}

// TestDHTItemJSON checks the dhtget result shape against the daemon's.
func TestDHTItemJSON(t *testing.T) {
	v := vectors.Verified()
	raw := vectors.Hex(v, "derived_checks", "dht_put", "dhtputraw_hex")
	item, err := bencode.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := vectors.Path(v, "derived_checks", "dht_put", "dhtget_result").([]any)[0]
	if got, w := canonJSON(t, DHTItemToJSON(item)), canonJSON(t, want); got != w {
		t.Fatalf("DHTItemToJSON:\n%s\nwant\n%s", got, w)
	}
	back, err := DHTItemFromJSON(useNumber(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bencode.Encode(back), raw) {
		t.Fatalf("DHTItemFromJSON encodes to %q, want %q", bencode.Encode(back), raw)
	}

	// A profile item: v is not a post and stays as it is; sig_p is hex.
	p, err := bencode.Decode(vectors.Hex(v, "dht_items", "profile_put", "p_bencoded_hex_from_capture"))
	if err != nil {
		t.Fatal(err)
	}
	sig := vectors.Hex(v, "dht_items", "profile_put", "sig_p_hex")
	prof := bencode.NewDict()
	prof.Set("p", p)
	prof.Set("sig_p", bencode.NewBytes(sig))
	prof.Set("sig_user", bencode.NewString("gotest"))
	got := canonJSON(t, DHTItemToJSON(prof))
	wantProf := `{"p":{"height":100,"seq":1,"target":{"n":"gotest","r":"profile","t":"s"},"time":1795319393,"v":{"bio":"vector profile","fullname":"Go Test"}},"sig_p":"` +
		hex.EncodeToString(sig) + `","sig_user":"gotest"}`
	if got != wantProf {
		t.Fatalf("profile item JSON:\n%s\nwant\n%s", got, wantProf)
	}
}

func TestFromJSONTypes(t *testing.T) {
	good := map[string]any{
		"a": json.Number("-12"),
		"b": float64(1 << 40),
		"c": 7,
		"d": int64(-1),
		"e": []any{"x", int32(3)},
		"f": map[string]any{},
	}
	v, err := FromJSON(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(bencode.Encode(v)), "d1:ai-12e1:bi1099511627776e1:ci7e1:di-1e1:el1:xi3ee1:fdee"; got != want {
		t.Fatalf("FromJSON = %s, want %s", got, want)
	}
	for name, bad := range map[string]any{
		"bool":        map[string]any{"x": true},
		"null":        []any{nil},
		"fraction":    1.5,
		"exponent":    json.Number("1e3"),
		"huge":        json.Number("99999999999999999999"),
		"float range": 1e19,
		"type":        struct{}{},
	} {
		if _, err := FromJSON(bad); !errors.Is(err, ErrJSON) {
			t.Errorf("%s: got %v, want ErrJSON", name, err)
		}
	}
	_, err = FromJSON(map[string]any{"userpost": map[string]any{"x": []any{1, false}}})
	if err == nil || !strings.Contains(err.Error(), "$.userpost.x[1]") {
		t.Fatalf("error does not say where: %v", err)
	}
	if _, err := PostFromJSON(map[string]any{"sig_userpost": "zz"}); !errors.Is(err, ErrJSON) || !strings.Contains(err.Error(), "sig_userpost") {
		t.Fatalf("bad hex: %v", err)
	}
	if _, err := PostFromJSON(map[string]any{"userpost": map[string]any{"dm": map[string]any{"key": "0"}}}); err == nil {
		t.Fatal("odd-length hex accepted")
	}
	// Mistyped binary fields are left alone, as twisterd does.
	v, err = PostFromJSON(map[string]any{"sig_userpost": 5, "userpost": "x"})
	if err != nil || string(bencode.Encode(v)) != "d12:sig_userposti5e8:userpost1:xe" {
		t.Fatalf("mistyped fields: %v %q", err, bencode.Encode(v))
	}
	if ToJSON(bencode.Value{}) != "<uninitialized>" {
		t.Fatal("zero value")
	}
}

// TestPostToJSONDMAndPFav: with both dm and pfav only dm is hexcaped, as
// hexcapePost does.
func TestPostToJSONDMAndPFav(t *testing.T) {
	sealed := bencode.NewDict()
	sealed.Set("key", bencode.NewBytes([]byte{1, 2}))
	sealed.Set("mac", bencode.NewBytes([]byte{3}))
	sealed.Set("body", bencode.NewBytes([]byte{0xff}))
	up := bencode.NewDict()
	up.Set("dm", sealed)
	up.Set("pfav", sealed)
	v := bencode.NewDict()
	v.Set("userpost", up)
	got := canonJSON(t, PostToJSON(v))
	want := `{"userpost":{"dm":{"body":"ff","key":"0102","mac":"03"},"pfav":{"body":"\ufffd","key":"\u0001\u0002","mac":"\u0003"}}}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// FuzzPostFromJSON feeds arbitrary JSON to PostFromJSON; whatever it
// accepts must survive PostToJSON → PostFromJSON unchanged.
func FuzzPostFromJSON(f *testing.F) {
	v := vectors.Verified()
	for _, name := range daemonPostNames(v) {
		b, _ := json.Marshal(vectors.Path(v, "daemon_posts", name, "rpc_json"))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			return
		}
		bv, err := PostFromJSON(x)
		if err != nil {
			return
		}
		back, err := PostFromJSON(useNumber(t, PostToJSON(bv)))
		if err != nil {
			t.Fatalf("PostFromJSON(PostToJSON(v)): %v", err)
		}
		if !bytes.Equal(bencode.Encode(back), bencode.Encode(bv)) {
			t.Fatalf("round trip changed the value:\n%q\n%q", bencode.Encode(bv), bencode.Encode(back))
		}
	})
}
