package dht

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

// testChain is a Chain over a fixed set of registered users.
type testChain struct {
	keys.StaticResolver
	height atomic.Int64
}

func (c *testChain) Height() int64 { return c.height.Load() }

// users registers the given names with fresh keys, plus the vectors' test
// user "gotest" with its real key.
func users(t testing.TB, names ...string) (map[string]*keys.PrivateKey, *testChain) {
	t.Helper()
	ch := &testChain{StaticResolver: keys.StaticResolver{}}
	ch.height.Store(100)
	ks := map[string]*keys.PrivateKey{}
	for _, n := range names {
		k, err := keys.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ks[n] = k
		ch.StaticResolver[n] = keys.KeyHistory{{Height: 1, Key: k.PubKey()}}
	}
	gk, err := keys.ParseSecret(vectors.Str(vectors.Verified(), "_about", "keys", "gotest", "wif"))
	if err != nil {
		t.Fatal(err)
	}
	ks["gotest"] = gk
	ch.StaticResolver["gotest"] = keys.KeyHistory{{Height: 1, Key: gk.PubKey()}}
	return ks, ch
}

// listenUDP binds a UDP socket on a loopback address.
func listenUDP(t testing.TB, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen %s: %v", ip, err)
	}
	return c
}

// startNode creates and starts a node; it is closed when the test ends.
func startNode(t testing.TB, conn PacketConn, ch Chain, mod func(*Config)) *DHT {
	t.Helper()
	cfg := Config{Conn: conn, Chain: ch}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func addrOf(d *DHT) netip.AddrPort {
	ap, _ := toAddrPort(d.LocalAddr())
	return ap
}

// rawClient speaks KRPC by hand to a node, to test what the server
// accepts.
type rawClient struct {
	t    testing.TB
	conn *net.UDPConn
	id   krpc.ID
	tid  uint16
}

func newRawClient(t testing.TB, ip string) *rawClient {
	c := &rawClient{t: t, conn: listenUDP(t, ip)}
	c.id = GenerateNodeID(netip.MustParseAddr(ip))
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// ask sends a query and returns the reply.
func (c *rawClient) ask(to netip.AddrPort, q string, x *krpc.Args) *krpc.Msg {
	c.t.Helper()
	c.tid++
	if x.ID.IsZero() {
		x.ID = c.id
	}
	m := &krpc.Msg{T: []byte{byte(c.tid >> 8), byte(c.tid)}, Z: krpc.TypeQuery, Q: q, X: x, V: []byte(krpc.Version)}
	return c.askRaw(to, m.Encode(), m.T)
}

func (c *rawClient) askRaw(to netip.AddrPort, pkt []byte, tid []byte) *krpc.Msg {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 65536)
	c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			c.t.Fatalf("no reply: %v", err)
		}
		m, err := krpc.Decode(append([]byte(nil), buf[:n]...))
		if err != nil {
			c.t.Fatalf("bad reply %q: %v", buf[:n], err)
		}
		if tid == nil || string(m.T) == string(tid) {
			return m
		}
	}
}

// token asks for a write token for (name, res, multi).
func (c *rawClient) token(to netip.AddrPort, name, res string, multi bool) []byte {
	c.t.Helper()
	r := c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget(name, res, multi), JustToken: krpc.Int(1)})
	if r.R == nil || len(r.R.Token) != 4 {
		c.t.Fatalf("no token in %+v", r)
	}
	return r.R.Token
}

// signedP builds and signs p as Put does, with fields overridable.
func signedP(key *keys.PrivateKey, name, res string, multi bool, v bencode.Value, seq, height, tm int64) (bencode.Value, []byte) {
	p := bencode.NewDict()
	p.Set("height", bencode.NewInt(height))
	if !multi {
		p.Set("seq", bencode.NewInt(seq))
	}
	t := bencode.NewDict()
	t.Set("n", bencode.NewString(name))
	t.Set("r", bencode.NewString(res))
	if multi {
		t.Set("t", bencode.NewString("m"))
	} else {
		t.Set("t", bencode.NewString("s"))
	}
	p.Set("target", t)
	p.Set("time", bencode.NewInt(tm))
	p.Set("v", v)
	raw := bencode.Encode(p)
	p.Raw = raw
	return p, key.Sign(raw)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var _ = fmt.Sprintf
