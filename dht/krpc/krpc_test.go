package krpc

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"sort"
	"testing"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/resource"
)

// packets returns every recorded twisterd packet, by "<name>/query" and
// "<name>/reply".
func packets(t testing.TB) map[string][]byte {
	t.Helper()
	kp, ok := vectors.Path(vectors.Verified(), "krpc_packets").(map[string]any)
	if !ok || len(kp) == 0 {
		t.Fatal("no krpc_packets in the verified vectors")
	}
	out := map[string][]byte{}
	for name := range kp {
		for _, dir := range []string{"query", "reply"} {
			b, err := hex.DecodeString(vectors.Str(vectors.Verified(), "krpc_packets", name, dir+"_hex"))
			if err != nil || len(b) == 0 {
				t.Fatalf("%s %s: bad hex", name, dir)
			}
			out[name+"/"+dir] = b
		}
	}
	return out
}

func TestRecordedPacketsRoundTrip(t *testing.T) {
	pk := packets(t)
	names := make([]string, 0, len(pk))
	for n := range pk {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		b := pk[name]
		m, err := Decode(b)
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		if string(m.V) != Version {
			t.Errorf("%s: v = %q", name, m.V)
		}
		if len(m.T) != 2 {
			t.Errorf("%s: t has %d bytes", name, len(m.T))
		}
		if len(m.Extra) != 0 || (m.X != nil && len(m.X.Extra) != 0) || (m.R != nil && len(m.R.Extra) != 0) {
			t.Errorf("%s: unexpected unknown keys", name)
		}
		if got := m.Encode(); !bytes.Equal(got, b) {
			t.Errorf("%s: re-encoding differs\n got %q\nwant %q", name, got, b)
		}
	}
}

func TestRecordedPacketFields(t *testing.T) {
	pk := packets(t)
	dec := func(name string) *Msg {
		m, err := Decode(pk[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	c := dec("ping/reply").R.ID // node C
	d := dec("ping/query").X.ID // node D

	fn := dec("findNode/query")
	if fn.Q != FindNode || fn.X.FindTarget == nil || *fn.X.FindTarget != c {
		t.Errorf("findNode query: %+v", fn.X)
	}
	if r := dec("findNode/reply").R; r.Nodes == nil || len(r.Nodes) != 0 {
		t.Errorf("findNode reply nodes = %v, want present and empty", r.Nodes)
	}

	gt := dec("getData_tracker/query")
	if gt.X.Target == nil || gt.X.Target.N != "gotest2" || gt.X.Target.R != "tracker" || gt.X.Target.T != "m" || gt.X.Target.Keys != 3 {
		t.Fatalf("tracker target = %+v", gt.X.Target)
	}
	if gt.X.InfoHash == nil || *gt.X.InfoHash != ID(resource.InfoHash("gotest2")) || gt.X.Target.ID() != *gt.X.InfoHash {
		t.Errorf("infoHash %v does not match target", gt.X.InfoHash)
	}
	gr := dec("getData_tracker/reply").R
	if gr.ID != d || len(gr.Token) != 4 || gr.Followers == nil || *gr.Followers != 0 {
		t.Errorf("tracker reply %+v", gr)
	}
	if len(gr.Values) != 1 || gr.Values[0] != netip.MustParseAddrPort("127.0.0.1:19450") {
		t.Errorf("values = %v", gr.Values)
	}
	if len(gr.Nodes) != 1 || gr.Nodes[0].ID != c || gr.Nodes[0].Addr != netip.MustParseAddrPort("127.0.0.1:19450") {
		t.Errorf("nodes = %v", gr.Nodes)
	}
	wn := dec("getData_tracker_reply_with_n/reply").R
	if string(wn.N) != "gotest" || len(wn.Values) != 1 || wn.Values[0] != netip.MustParseAddrPort("0.0.0.0:19450") {
		t.Errorf("reply with n: n=%q values=%v", wn.N, wn.Values)
	}

	jt := dec("getData_justtoken/query")
	if jt.X.JustToken == nil || *jt.X.JustToken != 1 {
		t.Errorf("justtoken = %v", jt.X.JustToken)
	}
	if r := dec("getData_justtoken/reply").R; r.Data != nil || len(r.Token) != 4 {
		t.Errorf("justtoken reply data=%v token=%x", r.Data, r.Token)
	}

	pd := dec("putData/query")
	dv := vectors.Derived()
	if pd.X.P == nil || !bytes.Equal(pd.X.P.Raw, vectors.Hex(dv, "derived_by_spec", "dht_put", "p_bencoded_hex")) {
		t.Errorf("putData p differs from the derived dht_put item")
	}
	if !bytes.Equal(pd.X.SigP, vectors.Hex(dv, "derived_by_spec", "dht_put", "sig_p_hex")) || string(pd.X.SigUser) != "gotest" {
		t.Errorf("putData sig_p/sig_user differ")
	}
	if len(pd.X.Token) != 4 || !bytes.Equal(pd.X.Token, dec("getData_justtoken/reply").R.Token) {
		t.Errorf("putData token %x is not the justtoken reply's", pd.X.Token)
	}
	tg, _ := pd.X.P.GetDict("target")
	if tid := resource.TargetOf(tg.Raw); hex.EncodeToString(tid[:]) != vectors.Str(dv, "derived_by_spec", "dht_put", "target_sha1") {
		t.Errorf("target id of p mismatch")
	}

	gd := dec("getData_with_data/reply").R
	if len(gd.Data) != 1 || gd.Data[0].SigUser != "gotest" || !bytes.Equal(gd.Data[0].P.Raw, pd.X.P.Raw) {
		t.Fatalf("data = %+v", gd.Data)
	}

	ap := dec("announcePeer/query").X
	if ap.InfoHash == nil || ap.Port == nil || *ap.Port != 19450 || ap.Seed == nil || *ap.Seed != 0 || len(ap.Token) != 4 {
		t.Errorf("announcePeer args %+v", ap)
	}

	prof := dec("putData_profile/query").X
	vf := vectors.Verified()
	if !bytes.Equal(prof.P.Raw, vectors.Hex(vf, "dht_items", "profile_put", "p_bencoded_hex_from_capture")) ||
		!bytes.Equal(prof.SigP, vectors.Hex(vf, "dht_items", "profile_put", "sig_p_hex")) {
		t.Errorf("profile putData differs from dht_items.profile_put")
	}
}

func TestBuildMatchesRecorded(t *testing.T) {
	// Build the justtoken getData query from scratch and compare with the
	// bytes twisterd sent.
	pk := packets(t)
	rec, _ := Decode(pk["getData_justtoken/query"])
	m := &Msg{T: rec.T, Z: TypeQuery, Q: GetData, V: []byte(Version), X: &Args{
		ID: rec.X.ID, Target: NewDataTarget("gotest", "post1", false), JustToken: Int(1),
	}}
	if got := m.Encode(); !bytes.Equal(got, pk["getData_justtoken/query"]) {
		t.Errorf("built query\n got %q\nwant %q", got, pk["getData_justtoken/query"])
	}
	// And the error form.
	e := &Msg{T: []byte("ab"), Z: TypeError, E: &Error{Code: ErrorCode, Msg: "invalid token"}, V: []byte(Version)}
	want := "d1:eli203e13:invalid tokene1:t2:ab1:v4:LT\x01\x001:z1:ee"
	if got := string(e.Encode()); got != want {
		t.Errorf("error encoding %q, want %q", got, want)
	}
	back, err := Decode(e.Encode())
	if err != nil || back.E == nil || back.E.Code != 203 || back.E.Msg != "invalid token" {
		t.Errorf("error decode: %v %+v", err, back)
	}
}

func TestCompact(t *testing.T) {
	ns := []NodeInfo{
		{ID: ID{1}, Addr: netip.MustParseAddrPort("1.2.3.4:5")},
		{ID: ID{2}, Addr: netip.MustParseAddrPort("[2001:db8::1]:6881")},
		{ID: ID{3}, Addr: netip.MustParseAddrPort("127.0.1.9:65535")},
	}
	r := &Return{ID: ID{9}}
	r.Nodes, r.Nodes2 = SplitNodes(ns)
	r.Values = []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[::1]:81")}
	m := &Msg{T: []byte{0, 1}, Z: TypeReply, R: r}
	b := m.Encode()
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.R.Nodes) != 2 || back.R.Nodes[1] != ns[2] || len(back.R.Nodes2) != 1 || back.R.Nodes2[0] != ns[1] {
		t.Errorf("nodes %v nodes2 %v", back.R.Nodes, back.R.Nodes2)
	}
	if len(back.R.Values) != 2 || back.R.Values[1] != r.Values[1] {
		t.Errorf("values %v", back.R.Values)
	}
	if !bytes.Equal(back.Encode(), b) {
		t.Error("compact round trip differs")
	}
	if len(EncodePeer(netip.MustParseAddrPort("[::ffff:1.2.3.4]:7"))) != PeerSize4 {
		t.Error("mapped address not written as IPv4")
	}
	if _, ok := DecodePeer(make([]byte, 7)); ok {
		t.Error("7-byte peer accepted")
	}
	// A partial trailing record is ignored.
	if got := DecodeNodes(make([]byte, NodeSize4+5)); len(got) != 1 {
		t.Errorf("DecodeNodes partial: %d", len(got))
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := map[string]string{
		"not bencode":        "hello",
		"list":               "le",
		"no z":               "d1:t2:aae",
		"query without q":    "d1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaae1:z1:qe",
		"query without id":   "d1:q4:ping1:t2:aa1:xde1:z1:qe",
		"short id":           "d1:q4:ping1:t2:aa1:xd2:id3:abce1:z1:qe",
		"bad target":         "d1:q7:getData1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa6:targeti5ee1:z1:qe",
		"target without r":   "d1:q7:getData1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa6:targetd1:n1:a1:t1:see1:z1:qe",
		"reply without id":   "d1:rd5:nodes0:e1:t2:aa1:z1:re",
		"error not list":     "d1:ei203e1:t2:aa1:z1:ee",
		"p not a dictionary": "d1:q7:putData1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa1:pi1ee1:z1:qe",
	}
	for name, in := range cases {
		m, err := Decode([]byte(in))
		if err == nil {
			t.Errorf("%s: decoded without error: %+v", name, m)
		}
	}
	// A query with bad arguments still yields its transaction id, so the
	// server can answer with an error.
	m, err := Decode([]byte("d1:q4:ping1:t2:aa1:xd2:id3:abce1:z1:qe"))
	if err == nil || m == nil || string(m.T) != "aa" || m.Z != TypeQuery || m.Q != Ping {
		t.Errorf("partial message: %+v, %v", m, err)
	}
	// Unknown keys survive.
	m, err = Decode([]byte("d1:q4:ping1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa3:zzzi1ee1:z1:q3:zzz1:ye"))
	if err != nil || len(m.Extra) != 1 || len(m.X.Extra) != 1 {
		t.Fatalf("extra: %v %+v", err, m)
	}
	if got := string(m.Encode()); got != "d1:q4:ping1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa3:zzzi1ee1:z1:q3:zzz1:ye" {
		t.Errorf("extra round trip: %q", got)
	}
	// Non-canonical (unsorted) input is accepted, as libtorrent does, and a
	// non-canonical p is forwarded byte for byte.
	in := "d1:z1:q1:q7:putData1:t2:aa1:xd2:id20:aaaaaaaaaaaaaaaaaaaa1:pd1:vi1e1:ai2eeee"
	m, err = Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.X.P.Raw) != "d1:vi1e1:ai2ee" {
		t.Errorf("raw p = %q", m.X.P.Raw)
	}
	if !bytes.Contains(m.Encode(), []byte("1:pd1:vi1e1:ai2ee")) {
		t.Errorf("p not forwarded verbatim: %q", m.Encode())
	}
}

func TestDataDropsMalformed(t *testing.T) {
	in := "d1:rd4:datal" +
		"d1:pd1:vi1ee5:sig_p1:x8:sig_user1:ue" + // good
		"d1:pi1e5:sig_p1:x8:sig_user1:ue" + // p not a dict
		"d5:sig_p1:x8:sig_user1:ue" + // no p
		"i7e" + // not a dict
		"e2:id20:aaaaaaaaaaaaaaaaaaaae1:t2:aa1:z1:re"
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.R.Data) != 1 || m.R.Data[0].SigUser != "u" {
		t.Errorf("data = %+v", m.R.Data)
	}
}

func TestDistance(t *testing.T) {
	target := ID{0x80}
	a, b := ID{0x81}, ID{0x00}
	if !CloserTo(target, a, b) || CloserTo(target, b, a) || CloserTo(target, a, a) {
		t.Error("CloserTo")
	}
	if CommonPrefixLen(ID{0x80}, ID{0x81}) != 7 || CommonPrefixLen(a, a) != 160 || CommonPrefixLen(ID{}, ID{0x80}) != 0 {
		t.Error("CommonPrefixLen")
	}
	if Xor(a, b) != a {
		t.Error("Xor")
	}
	dt := NewDataTarget("twister", "tracker", true)
	if dt.ID().String() != "5fa786d98370392f815cb953ab713102ee833b73" {
		t.Errorf("target id %s", dt.ID())
	}
	_ = bencode.Value{}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, b := range packets(f) {
		f.Add(b)
	}
	f.Add([]byte("d1:eli203e13:invalid tokene1:t2:ab1:z1:ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if m == nil {
			if err == nil {
				t.Fatal("nil message without error")
			}
			return
		}
		out := m.Encode()
		m2, err2 := Decode(out)
		if err == nil && err2 != nil {
			t.Fatalf("re-encoding of a valid message does not decode: %v\nin  %q\nout %q", err2, b, out)
		}
		if err == nil && !bytes.Equal(m2.Encode(), out) {
			t.Fatalf("encoding not stable:\n%q\n%q", out, m2.Encode())
		}
	})
}
