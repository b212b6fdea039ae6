package p2p

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
	"github.com/gotwister/twister/keys"
)

// logSink collects log records so tests can look for a disconnect reason.
type logSink struct {
	mu   sync.Mutex
	recs []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	s.recs = append(s.recs, b.String())
	s.mu.Unlock()
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

func (s *logSink) contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

// loopbackDial dials from source IP src and refuses any destination that
// is not on loopback: tests never leave 127.0.0.0/8.
func loopbackDial(t testing.TB, src string) func(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("test node tried to dial non-loopback address %q", addr)
			return nil, errors.New("test: only loopback may be dialled")
		}
		return d.DialContext(ctx, "tcp", addr)
	}
}

type testNode struct {
	t     testing.TB
	ip    string
	addr  string
	chain *chain.Chain
	node  *Node
	logs  *logSink
}

// openChain opens a regtest chain in a temporary directory.
func openChain(t testing.TB) *chain.Chain {
	t.Helper()
	c, err := chain.Open(t.TempDir(), consensus.Regtest, chain.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startNode runs a node listening on ip (a 127.0.x.y address) over a
// fresh chain, or over c if given.
func startNode(t testing.TB, ip string, c *chain.Chain, mod func(*Config)) *testNode {
	t.Helper()
	if c == nil {
		c = openChain(t)
	}
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	cfg := Config{
		Chain:        c,
		Listen:       ln,
		Dial:         loopbackDial(t, ip),
		Logger:       slog.New(sink),
		StallTimeout: 3 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &testNode{t: t, ip: ip, addr: ln.Addr().String(), chain: c, node: n, logs: sink}
}

func connectTo(addrs ...string) func(*Config) {
	return func(c *Config) { c.ConnectOnly = addrs }
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitReady(t testing.TB, n *testNode, peers int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%s to have %d ready peers", n.ip, peers), func() bool {
		k := 0
		for _, p := range n.node.snapshot() {
			if p.ready() {
				k++
			}
		}
		return k == peers
	})
}

func mustKey(t testing.TB) *keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// registration builds name's registration with key k, its proof of work
// ground for p.
func registration(t testing.TB, p *consensus.Params, name string, k *keys.PrivateKey) *consensus.Tx {
	t.Helper()
	tx, err := consensus.NewRegistration(name, k.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, p.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

// mineN mines n nobody blocks directly on c.
func mineN(t testing.TB, c *chain.Chain, n int) {
	t.Helper()
	for range n {
		if _, err := c.MineBlock(context.Background(), "", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// rawPeer is a hand-driven protocol peer for exercising a node message by
// message.
type rawPeer struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t testing.TB, src, addr string) *rawPeer {
	t.Helper()
	conn, err := loopbackDial(t, src)(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (r *rawPeer) send(m wire.Message) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteMessage(r.conn, consensus.Regtest.Magic, m); err != nil {
		r.t.Fatalf("raw peer send %s: %v", m.Command(), err)
	}
}

// read returns the next message or the error (io.EOF once the node hung up).
func (r *rawPeer) read(timeout time.Duration) (wire.Message, error) {
	r.conn.SetReadDeadline(time.Now().Add(timeout))
	return wire.ReadMessage(r.br, consensus.Regtest.Magic, 0)
}

// expect reads until a message with command cmd arrives, skipping others.
func (r *rawPeer) expect(cmd string) wire.Message {
	r.t.Helper()
	for {
		m, err := r.read(10 * time.Second)
		if err != nil {
			r.t.Fatalf("raw peer waiting for %s: %v", cmd, err)
		}
		if m.Command() == cmd {
			return m
		}
	}
}

// expectClosed reads until the node closes the connection.
func (r *rawPeer) expectClosed() {
	r.t.Helper()
	for {
		_, err := r.read(10 * time.Second)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("node did not close the connection")
		}
		return
	}
}

func randNonce() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// handshake sends our version, reads the node's version and verack and
// acknowledges; it returns the node's version message.
func (r *rawPeer) handshake(startHeight int32) *wire.MsgVersion {
	r.t.Helper()
	r.send(&wire.MsgVersion{
		Version: wire.ProtocolVersion, Services: wire.NodeNetwork, Timestamp: time.Now().Unix(),
		Nonce: randNonce(), SubVersion: "/rawpeer:1/", StartHeight: startHeight, Relay: true,
	})
	v := r.expect(wire.CmdVersion).(*wire.MsgVersion)
	r.expect(wire.CmdVerack)
	r.send(&wire.MsgVerack{})
	return v
}

func tipHash(c *chain.Chain) consensus.Hash { return c.Tip().Hash }
