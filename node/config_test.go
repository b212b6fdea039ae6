package node

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseArgs([]string{"-datadir=" + dir, "-regtest", "-listen=1", "-upnp=0", "-addnode=127.0.0.1:1", "-addnode", "127.0.0.1:2", "-nodnsseed"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != RegtestP2PPort || c.RPCPort != RegtestRPCPort || c.DHTPort() != RegtestP2PPort+1000 {
		t.Fatalf("ports %d %d", c.Port, c.RPCPort)
	}
	if len(c.AddNode) != 2 || c.DNSSeed || !c.Listen {
		t.Fatalf("%+v", c)
	}
	if c.NetDir() != filepath.Join(dir, "regtest") {
		t.Fatal(c.NetDir())
	}
	c, _ = ParseArgs([]string{"-datadir=" + dir}, io.Discard)
	if c.Port != MainnetP2PPort || c.RPCPort != MainnetRPCPort {
		t.Fatalf("mainnet ports %d %d", c.Port, c.RPCPort)
	}
	for _, bad := range [][]string{{"-nosuchflag"}, {"-port=x"}, {"-port=65000"}, {"-bind=notanip"}, {"extra"}} {
		if _, err := ParseArgs(append([]string{"-datadir=" + dir}, bad...), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestConfFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "twister.conf"), []byte("# comment\nrpcuser=user\nrpcpassword=pwd\nrpcport=1234\naddnode=127.0.0.1:5\n"), 0o600)
	c, err := ParseArgs([]string{"-datadir=" + dir, "-rpcport=999"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RPCUser != "user" || c.RPCPassword != "pwd" || c.RPCPort != 999 || len(c.AddNode) != 1 {
		t.Fatalf("%+v", c)
	}
	os.WriteFile(filepath.Join(dir, "twister.conf"), []byte("bogus=1\n"), 0o600)
	if _, err := ParseArgs([]string{"-datadir=" + dir}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Fatalf("bogus key: %v", err)
	}
}
