package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gotwister/twister/bencode"
)

func TestRoundTrip(t *testing.T) {
	msgs := []Msg{
		Request(1, OpHello, Dict("v", 1)),
		Request(2, OpGetData, Dict("n", "alice", "r", "profile", "t", "s", "minMulti", 3, "timeoutMs", 5000)),
		Response(2, Dict("items", []bencode.Value{Dict("p", []byte("d1:ai1ee"), "sig_p", bytes.Repeat([]byte{7}, 65), "sig_user", "alice")})),
		Error(3, CodeRateLimited, "slow down"),
		Error(4, "", "no code"),
		Notice(NoticeWindow, Dict("s", uint32(7), "n", 4096)),
		Notice(NoticeIncoming, Dict("s", 2, "h", bytes.Repeat([]byte{1}, 20), "remote", "1.2.3.4:28333")),
		Request(5, OpPing, bencode.Value{}),
	}
	for _, m := range msgs {
		b := AppendControl(nil, m)
		f, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		got := f.Msg
		if got == nil || got.Type != m.Type || got.Op != m.Op || got.Err != m.Err || got.Code != m.Code {
			t.Fatalf("round trip of %+v gave %+v", m, got)
		}
		if m.Type != TypeNotice && got.ID != m.ID {
			t.Fatalf("id %d, want %d", got.ID, m.ID)
		}
		if m.Body.Kind == bencode.Dict && !bencode.Equal(got.Body, m.Body) {
			t.Fatalf("body %v, want %v", got.Body, m.Body)
		}
		if !bytes.Equal(AppendControl(nil, *got), b) {
			t.Fatalf("re-encoding differs for %+v", m)
		}
	}
	d := AppendData(nil, 0xdeadbeef, []byte("payload"))
	f, err := DecodeFrame(d)
	if err != nil || f.Msg != nil || f.Stream != 0xdeadbeef || string(f.Data) != "payload" {
		t.Fatalf("data frame: %+v %v", f, err)
	}
	buf := make([]byte, DataHeaderLen+3)
	PutDataHeader(buf, 9)
	copy(buf[DataHeaderLen:], "abc")
	if !bytes.Equal(buf, AppendData(nil, 9, []byte("abc"))) {
		t.Fatal("PutDataHeader differs from AppendDataHeader")
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":           {},
		"unknown kind":    {7, 1, 2},
		"short data":      {KindData, 0, 0, 0, 1},
		"not bencode":     append([]byte{KindControl}, "hello"...),
		"not a dict":      append([]byte{KindControl}, "li1ee"...),
		"non-canonical":   append([]byte{KindControl}, "d1:yi01ee"...),
		"unsorted":        append([]byte{KindControl}, "d1:y1:q1:q4:pinge"...),
		"trailing":        append([]byte{KindControl}, "d1:y1:ne1:x"...),
		"no y":            append([]byte{KindControl}, "d1:qi1ee"...),
		"bad y":           append([]byte{KindControl}, "d1:y1:ze"...),
		"request no id":   append([]byte{KindControl}, "d1:q4:ping1:y1:qe"...),
		"request neg id":  append([]byte{KindControl}, "d1:q4:ping1:ti-1e1:y1:qe"...),
		"request no op":   append([]byte{KindControl}, "d1:ti1e1:y1:qe"...),
		"args not dict":   append([]byte{KindControl}, "d1:ai1e1:q4:ping1:ti1e1:y1:qe"...),
		"error no e":      append([]byte{KindControl}, "d1:ti1e1:y1:ee"...),
		"error code int":  append([]byte{KindControl}, "d1:ci1e1:e1:x1:ti1e1:y1:ee"...),
		"response no id":  append([]byte{KindControl}, "d1:y1:re"...),
		"response r list": append([]byte{KindControl}, "d1:rle1:ti1e1:y1:re"...),
		"notice empty op": append([]byte{KindControl}, "d1:q0:1:y1:ne"...),
		"too deep":        append([]byte{KindControl}, "d1:ad1:ad1:ad1:ad1:ad1:ad1:ad1:ad1:aleeeeeeeee1:q1:x1:ti1e1:y1:qe"...),
	} {
		f, err := DecodeFrame(b)
		if err == nil || !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: got %+v, %v", name, f, err)
		}
	}
}

func TestArgs(t *testing.T) {
	a := ArgsOf(Dict("s", "str", "i", 5, "b", []byte{1, 2}, "l", []string{"x"}, "h", bytes.Repeat([]byte{2}, 20)))
	if a.Str("s", true) != "str" || a.Int("i", true) != 5 || len(a.Bytes("b", true)) != 2 || len(a.List("l", true)) != 1 ||
		a.Hash20("h", true)[0] != 2 || a.Str("missing", false) != "" || a.Err() != nil {
		t.Fatalf("args: %v", a.Err())
	}
	for name, f := range map[string]func(*Args){
		"missing": func(a *Args) { a.Str("nope", true) },
		"type":    func(a *Args) { a.Int("s", true) },
		"hash":    func(a *Args) { a.Hash20("b", true) },
		"list":    func(a *Args) { a.List("i", true) },
	} {
		a := ArgsOf(Dict("s", "str", "i", 5, "b", []byte{1, 2}))
		f(a)
		if !errors.Is(a.Err(), ErrBadArgs) || !strings.Contains(a.Err().Error(), `"`) {
			t.Errorf("%s: %v", name, a.Err())
		}
	}
	if ArgsOf(bencode.Value{}).Has("x") {
		t.Error("empty body has a key")
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendControl(nil, Request(1, OpHello, Dict("v", 1))))
	f.Add(AppendControl(nil, Error(2, CodeLimit, "x")))
	f.Add(AppendData(nil, 3, []byte("\x13twister protocollll")))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		if fr.Msg == nil {
			if !bytes.Equal(AppendData(nil, fr.Stream, fr.Data), b) {
				t.Fatal("data frame does not re-encode to its bytes")
			}
			return
		}
		// A decoded control message re-encodes to a decodable frame with
		// the same fields.
		again, err := DecodeFrame(AppendControl(nil, *fr.Msg))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", fr.Msg, err)
		}
		m, m2 := fr.Msg, again.Msg
		if m.Type != m2.Type || m.Op != m2.Op || m.Err != m2.Err || m.Code != m2.Code || (m.Type != TypeNotice && m.ID != m2.ID) {
			t.Fatalf("%+v re-decoded as %+v", m, m2)
		}
	})
}

func BenchmarkDecodeControl(b *testing.B) {
	frame := AppendControl(nil, Request(7, OpGetData, Dict("n", "alice", "r", "status", "t", "s", "timeoutMs", 5000)))
	b.SetBytes(int64(len(frame)))
	for range b.N {
		if _, err := DecodeFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}
