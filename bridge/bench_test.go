package bridge_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge"
)

// BenchmarkStreamRelay measures stream throughput browser → bridge → TCP
// echo → bridge → browser on loopback (b.SetBytes counts one direction).
func BenchmarkStreamRelay(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.3.40:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	env := startBridge(b, bridge.Config{Limits: bridge.Limits{MaxBytesPerSecond: -1}}, "")
	c := dial(b, env.url)
	s, err := c.OpenStream(ctxT(b, 5*time.Second), ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Write(handshake); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, len(handshake))); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	back := make([]byte, len(chunk))
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		go s.Write(chunk)
		if _, err := io.ReadFull(s, back); err != nil {
			b.Fatal(err)
		}
	}
}
