package node

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is what a node is started with: twisterd's command-line flags and
// twister.conf settings, resolved to values.
type Config struct {
	DataDir     string   // -datadir (default ~/.twister)
	ConfFile    string   // -conf (default twister.conf in the data dir)
	Regtest     bool     // -regtest
	Port        int      // -port: P2P; DHT and swarm use Port+1000
	RPCPort     int      // -rpcport
	RPCUser     string   // -rpcuser
	RPCPassword string   // -rpcpassword
	RPCBind     string   // -rpcbind (default 127.0.0.1)
	Bind        string   // -bind: address for P2P, DHT and swarm sockets
	Listen      bool     // -listen
	Connect     []string // -connect: only these P2P peers
	AddNode     []string // -addnode
	DNSSeed     bool     // -dnsseed (never used on regtest)
	HTMLDir     string   // -htmldir
	Gen         bool     // -gen
	GenProcs    int      // -genproclimit
	Server      bool     // -server (accepted; the RPC server always runs)
	PrintToCons bool     // -printtoconsole
	Debug       bool     // -debug
	// DHTBootstrap lists extra DHT nodes (host:port), a flag of ours.
	DHTBootstrap []string
	// MaxNeighborSwarms bounds the swarms joined as a DHT neighbour
	// (0: MaxNeighborSwarms); not a flag.
	MaxNeighborSwarms int
}

// Network defaults (twister-core chainparams.cpp).
const (
	MainnetP2PPort = 28333
	MainnetRPCPort = 28332
	RegtestP2PPort = 18444
	RegtestRPCPort = 18332
	// LibtorrentPortOffset separates the DHT/swarm port from the P2P one.
	LibtorrentPortOffset = 1000
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// ignored is a flag twisterd has that changes nothing here.
type ignored struct{ name string }

func (i ignored) String() string   { return "" }
func (i ignored) Set(string) error { return nil }
func (i ignored) IsBoolFlag() bool { return true }

// ParseArgs parses twisterd's command line, then the configuration file
// (command-line values win, as in twister-core). It returns a clear error for
// an unknown flag, a malformed value or an unreadable configuration file.
func ParseArgs(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{Listen: true, DNSSeed: true, GenProcs: -1, RPCBind: "127.0.0.1"}
	fs := flag.NewFlagSet("twisterd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	home, _ := os.UserHomeDir()
	fs.StringVar(&c.DataDir, "datadir", filepath.Join(home, ".twister"), "data directory")
	fs.StringVar(&c.ConfFile, "conf", "twister.conf", "configuration file (relative to the data directory)")
	fs.BoolVar(&c.Regtest, "regtest", false, "use the regression test network (local, fast blocks)")
	fs.IntVar(&c.Port, "port", 0, "P2P port (default 28333, regtest 18444); DHT and swarm use port+1000")
	fs.IntVar(&c.RPCPort, "rpcport", 0, "JSON-RPC port (default 28332, regtest 18332)")
	fs.StringVar(&c.RPCUser, "rpcuser", "", "JSON-RPC user name")
	fs.StringVar(&c.RPCPassword, "rpcpassword", "", "JSON-RPC password")
	fs.StringVar(&c.RPCBind, "rpcbind", "127.0.0.1", "address the JSON-RPC server listens on")
	fs.StringVar(&c.Bind, "bind", "", "address for the P2P, DHT and swarm sockets (default all)")
	fs.BoolVar(&c.Listen, "listen", true, "accept incoming connections")
	fs.Var((*listFlag)(&c.Connect), "connect", "connect only to this P2P peer (repeatable)")
	fs.Var((*listFlag)(&c.AddNode), "addnode", "add a P2P peer to connect to (repeatable)")
	fs.BoolVar(&c.DNSSeed, "dnsseed", true, "look up peers by DNS seeds (mainnet only)")
	fs.StringVar(&c.HTMLDir, "htmldir", "", "directory of a web UI served on the RPC port")
	fs.BoolVar(&c.Gen, "gen", false, "mine blocks")
	fs.IntVar(&c.GenProcs, "genproclimit", -1, "mining threads (-1: all cores)")
	fs.BoolVar(&c.Server, "server", true, "accept JSON-RPC commands")
	fs.BoolVar(&c.PrintToCons, "printtoconsole", false, "log to standard output")
	fs.BoolVar(&c.Debug, "debug", false, "verbose log")
	fs.Var((*listFlag)(&c.DHTBootstrap), "dhtnode", "extra DHT bootstrap node host:port (repeatable)")
	// Flags twisterd has that change nothing here, accepted so existing
	// command lines keep working.
	for _, n := range []string{"upnp", "discover", "dns", "multiconnperip", "daemon", "public_server_mode", "rescan", "dhtproxy"} {
		fs.Var(ignored{n}, n, "accepted for compatibility; no effect")
	}
	// twisterd accepts -nofoo for -foo=0.
	args = rewriteNegations(args, fs)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: twisterd [-flag=value ...]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (twisterd takes only -flags; use the RPC for commands)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	conf := c.ConfFile
	if !filepath.IsAbs(conf) {
		conf = filepath.Join(c.DataDir, conf)
	}
	if err := readConf(conf, fs, set); err != nil {
		return nil, err
	}
	if c.Port == 0 {
		c.Port = MainnetP2PPort
		if c.Regtest {
			c.Port = RegtestP2PPort
		}
	}
	if c.RPCPort == 0 {
		c.RPCPort = MainnetRPCPort
		if c.Regtest {
			c.RPCPort = RegtestRPCPort
		}
	}
	if c.Port <= 0 || c.Port+LibtorrentPortOffset > 65535 {
		return nil, fmt.Errorf("-port=%d: must be between 1 and %d (the DHT uses port+1000)", c.Port, 65535-LibtorrentPortOffset)
	}
	if c.RPCPort <= 0 || c.RPCPort > 65535 {
		return nil, fmt.Errorf("-rpcport=%d: out of range", c.RPCPort)
	}
	if c.Bind != "" && net.ParseIP(c.Bind) == nil {
		return nil, fmt.Errorf("-bind=%s: not an IP address", c.Bind)
	}
	if net.ParseIP(c.RPCBind) == nil {
		return nil, fmt.Errorf("-rpcbind=%s: not an IP address", c.RPCBind)
	}
	if c.Regtest {
		c.DNSSeed = false
	}
	return c, nil
}

func rewriteNegations(args []string, fs *flag.FlagSet) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && strings.HasPrefix(name, "no") && !strings.Contains(name, "=") && fs.Lookup(name) == nil && fs.Lookup(name[2:]) != nil {
			out = append(out, "-"+name[2:]+"=0")
			continue
		}
		out = append(out, a)
	}
	return out
}

// readConf applies key=value lines of the configuration file to flags not
// given on the command line. A missing file is fine; an unreadable one or an
// unknown key is an error.
func readConf(path string, fs *flag.FlagSet, set map[string]bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read configuration file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			k, v = s, "1"
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if set[k] && !isList(k) {
			continue
		}
		if fs.Lookup(k) == nil {
			return fmt.Errorf("%s:%d: unknown setting %q", path, line, k)
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("%s:%d: %s=%s: %v", path, line, k, v, err)
		}
	}
	return sc.Err()
}

func isList(k string) bool { return k == "addnode" || k == "connect" || k == "dhtnode" }

// NetDir is the data subdirectory of the network: the data dir itself on
// mainnet, "regtest" inside it on regtest (as twister-core does).
func (c *Config) NetDir() string {
	if c.Regtest {
		return filepath.Join(c.DataDir, "regtest")
	}
	return c.DataDir
}

// DHTPort is the UDP/TCP port of the DHT and the swarms.
func (c *Config) DHTPort() int { return c.Port + LibtorrentPortOffset }

// BindAddr is the address sockets bind to.
func (c *Config) BindAddr() string {
	if c.Bind == "" {
		return "0.0.0.0"
	}
	return c.Bind
}

// Itoa is a small helper for address building.
func Itoa(i int) string { return strconv.Itoa(i) }
