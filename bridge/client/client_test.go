package client

import (
	"net"
	"testing"
)

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8090":     "ws://127.0.0.1:8090/ws",
		"ws://127.0.0.1:8090/":    "ws://127.0.0.1:8090/ws",
		"wss://bridge.example/ws": "wss://bridge.example/ws",
		"https://bridge.example":  "wss://bridge.example/ws",
		"http://h:1/custom/path":  "ws://h:1/custom/path",
	} {
		got, err := wsURL(in)
		if err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "ws://", "://nope", "127.0.0.1:8090"} {
		if got, err := wsURL(bad); err == nil {
			t.Errorf("wsURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestParseAddr(t *testing.T) {
	if a, ok := parseAddr("1.2.3.4:28333").(*net.TCPAddr); !ok || a.Port != 28333 || a.IP.String() != "1.2.3.4" {
		t.Errorf("ipv4: %v", parseAddr("1.2.3.4:28333"))
	}
	if a, ok := parseAddr("[2001:db8::1]:5").(*net.TCPAddr); !ok || a.Port != 5 {
		t.Errorf("ipv6: %v", a)
	}
	if a := parseAddr("somewhere"); a.Network() != "bridge" || a.String() != "somewhere" {
		t.Errorf("other: %v", a)
	}
}
