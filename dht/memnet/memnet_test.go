package memnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

func TestSendReceive(t *testing.T) {
	n := New(Config{})
	a, err := n.Listen(netip.MustParseAddrPort("10.0.0.1:1000"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.Listen(netip.MustParseAddrPort("10.0.0.2:1000"))
	if _, err := n.Listen(netip.MustParseAddrPort("10.0.0.2:1000")); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("double bind: %v", err)
	}
	if _, err := a.WriteTo([]byte("hello"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	k, from, err := b.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "hello" || from.String() != "10.0.0.1:1000" {
		t.Fatalf("got %q from %v, %v", buf[:k], from, err)
	}
	// To nobody: lost, no error (UDP semantics).
	if _, err := a.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.9.9.9:1"))); err != nil {
		t.Fatal(err)
	}
	if s, d, l := n.Stats(); s != 2 || d != 1 || l != 1 {
		t.Errorf("stats %d %d %d", s, d, l)
	}
	b.Close()
	if _, _, err := b.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if _, err := b.WriteTo([]byte("x"), a.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	// The address is free again.
	if _, err := n.Listen(netip.MustParseAddrPort("10.0.0.2:1000")); err != nil {
		t.Errorf("rebind: %v", err)
	}
}

func TestLatencyDropDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond})
		a, _ := n.Listen(netip.MustParseAddrPort("1.1.1.1:1"))
		b, _ := n.Listen(netip.MustParseAddrPort("2.2.2.2:2"))
		start := time.Now()
		a.WriteTo([]byte("late"), b.LocalAddr())
		buf := make([]byte, 8)
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 50*time.Millisecond || el >= 60*time.Millisecond {
			t.Errorf("delivered after %v", el)
		}
		b.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := b.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("deadline: %v", err)
		}
		a.Close()
		b.Close()
	})
	n := New(Config{DropRate: 0.5, Seed: 7})
	a, _ := n.Listen(netip.MustParseAddrPort("1.1.1.1:1"))
	b, _ := n.Listen(netip.MustParseAddrPort("2.2.2.2:2"))
	for i := 0; i < 400; i++ {
		a.WriteTo([]byte("x"), b.LocalAddr())
	}
	_, d, l := n.Stats()
	if d < 150 || d > 250 || d+l != 400 {
		t.Errorf("drop 0.5: delivered %d lost %d", d, l)
	}
}
