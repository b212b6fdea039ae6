//go:build !js

package wire

import (
	"net"
	"testing"
	"time"
)

// TestOverTCP exchanges a version handshake and a headers message over a
// real loopback TCP connection.
func TestOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hdr := genesisHeader(t)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		m, err := ReadMessage(c, RegtestMagic, 0)
		if err != nil {
			done <- err
			return
		}
		v := m.(*MsgVersion)
		reply := *v
		reply.Nonce++
		for _, out := range []Message{&reply, &MsgVerack{}, &MsgHeaders{Headers: [][BlockHeaderSize]byte{hdr}}} {
			if err := WriteMessage(c, RegtestMagic, out); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := WriteMessage(c, RegtestMagic, testVersion()); err != nil {
		t.Fatal(err)
	}
	want := []string{CmdVersion, CmdVerack, CmdHeaders}
	for _, cmd := range want {
		m, err := ReadMessage(c, RegtestMagic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.Command() != cmd {
			t.Fatalf("got %s, want %s", m.Command(), cmd)
		}
		if v, ok := m.(*MsgVersion); ok && v.Nonce != testVersion().Nonce+1 {
			t.Fatalf("nonce %d", v.Nonce)
		}
		if h, ok := m.(*MsgHeaders); ok && h.Headers[0] != hdr {
			t.Fatal("header differs")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
