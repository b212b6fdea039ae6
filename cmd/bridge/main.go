// Command bridge runs a twister bridge (package bridge): browser nodes
// connect with one WebSocket each (ws://HOST/ws, or wss:// with -tls-cert
// and -tls-key) and reach the native network through it — the UDP DHT (a
// DHT node run by this process), block headers and user proofs from the
// chain stored in -datadir, and TCP streams to native swarm peers; with
// -swarm-listen native peers reach swarms that browsers serve. It can also
// mount the WebRTC signaling server at /signal (-signal) and serve the web
// UI (-html). /healthz and /metrics are for operators (see
// docs/bridge-operators.md). SIGINT or SIGTERM closes every session
// (status 1001) and exits.
//
// The chain is opened with chain.Open in -datadir and kept in sync over
// P2P with the twister nodes given by -connect, to which registrations sent
// by browsers are relayed; the DHT checks items against it.
//
// Usage:
//
//	bridge [-listen 127.0.0.1:8090] [-datadir DIR] [-dht-bind IP] [-dht-port N]
//	       [-dhtnode host:port ...] [-swarm-listen ADDR] [-origins …] [-tls-cert F -tls-key F]
//	       [-html DIR] [-signal] [-peers url,url] [-connect host:port ...] [limits]
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/p2p"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/signaling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	os.Exit(code)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// run is the whole command; it returns the exit status (0 after a clean
// shutdown, 1 on a runtime failure, 2 on bad usage). If ready is not nil it
// receives the HTTP listening address once serving.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "HTTP/WebSocket `address` (host:port)")
	datadir := fs.String("datadir", "", "`directory` of the block chain store; empty: no chain and no DHT")
	network := fs.String("network", "main", "chain network: main or regtest")
	dhtBind := fs.String("dht-bind", "127.0.0.1", "`IP` address of the DHT's UDP socket")
	dhtPort := fs.Int("dht-port", 0, "UDP `port` of the DHT (0: any free port)")
	var dhtNodes listFlag
	fs.Var(&dhtNodes, "dhtnode", "DHT bootstrap node `host:port` (repeatable)")
	var connect listFlag
	fs.Var(&connect, "connect", "twister node `host:port` (P2P) to sync the chain from and relay registrations to (repeatable)")
	swarmListen := fs.String("swarm-listen", "", "TCP `address` where native peers reach browser-served swarms (empty: none)")
	announcePort := fs.Int("announce-port", 0, "swarm `port` announced in the DHT (0: the -swarm-listen port)")
	origins := fs.String("origins", "", "comma-separated browser origins allowed besides same-origin, as host `patterns` (example.org, *.example.org, localhost:*, https://example.org)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); with -tls-key serves https/wss")
	tlsKey := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	html := fs.String("html", "", "`directory` served at / (the web UI)")
	signalOn := fs.Bool("signal", false, "mount the WebRTC signaling server at /signal")
	peers := fs.String("peers", "", "comma-separated `URLs` of other bridges, told to browsers")
	allowPrivate := fs.Bool("allow-private-dial", false, "let browsers open streams to loopback and private addresses (devnets only)")
	rate := fs.Float64("rate", 20, "requests per second allowed per client")
	burst := fs.Int("burst", 40, "requests allowed at once per client")
	maxStreams := fs.Int("max-streams", 32, "open streams per client")
	maxBytes := fs.Int("max-bytes-per-sec", 1<<20, "stream bytes per second per client (-1: unlimited)")
	maxClients := fs.Int("max-clients", 25000, "concurrent WebSocket sessions")
	maxFrame := fs.Int("max-frame", 64<<10, "largest WebSocket message accepted, in `bytes`")
	maxPending := fs.Int("max-pending", 8, "slow requests (DHT, dial, sendTx) in flight per client")
	dhtWorkers := fs.Int("dht-workers", 32, "DHT operations run at once for all clients")
	window := fs.Int("window", 256<<10, "per-stream flow-control window, in `bytes`")
	idle := fs.Duration("idle", 60*time.Second, "close sessions silent for this long")
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bridge [flags]\n\nWebSocket bridge from browser twister nodes to the native network.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bridge: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	if err := checkHostPort(*listen); err != nil {
		return usage("invalid -listen %q: %v", *listen, err)
	}
	if *swarmListen != "" {
		if err := checkHostPort(*swarmListen); err != nil {
			return usage("invalid -swarm-listen %q: %v", *swarmListen, err)
		}
	}
	bindIP, err := netip.ParseAddr(*dhtBind)
	if err != nil {
		return usage("invalid -dht-bind %q: an IP address is needed", *dhtBind)
	}
	if *dhtPort < 0 || *dhtPort > 65535 || *announcePort < 0 || *announcePort > 65535 {
		return usage("ports must be from 0 to 65535")
	}
	for _, n := range dhtNodes {
		if err := checkHostPort(n); err != nil {
			return usage("invalid -dhtnode %q: %v", n, err)
		}
	}
	if len(connect) > 0 && *datadir == "" {
		return usage("-connect needs -datadir: the bridge keeps its copy of the chain there")
	}
	if len(dhtNodes) > 0 && *datadir == "" {
		return usage("-dhtnode needs -datadir: the DHT checks signatures against the block chain")
	}
	var params *consensus.Params
	switch *network {
	case "main":
		params = consensus.Mainnet
	case "regtest":
		params = consensus.Regtest
	default:
		return usage("-network must be main or regtest, got %q", *network)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usage("-tls-cert and -tls-key go together")
	}
	if *tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return usage("cannot load TLS key pair: %v", err)
		}
	}
	if *html != "" {
		if st, err := os.Stat(*html); err != nil || !st.IsDir() {
			return usage("-html %q is not a directory", *html)
		}
	}
	peerURLs := splitList(*peers)
	for _, p := range peerURLs {
		if !strings.HasPrefix(p, "ws://") && !strings.HasPrefix(p, "wss://") {
			return usage("-peers: %q is not a ws:// or wss:// URL", p)
		}
	}
	for name, v := range map[string]int{"-burst": *burst, "-max-streams": *maxStreams, "-max-clients": *maxClients,
		"-max-pending": *maxPending, "-dht-workers": *dhtWorkers} {
		if v <= 0 {
			return usage("%s must be positive, got %d", name, v)
		}
	}
	if *rate <= 0 {
		return usage("-rate must be positive, got %v", *rate)
	}
	if *maxBytes == 0 || *maxBytes < -1 {
		return usage("-max-bytes-per-sec must be positive or -1, got %d", *maxBytes)
	}
	if *maxFrame < 1024 || *window < 1024 {
		return usage("-max-frame and -window must be at least 1024 bytes")
	}
	if *idle < time.Second {
		return usage("-idle must be at least 1s, got %v", *idle)
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bridge: "+format+"\n", a...)
		return 1
	}
	if n, err := raiseFileLimit(uint64(*maxClients) + 1024); err != nil {
		logger.Warn("bridge: cannot raise the open-file limit", "err", err)
	} else if n < uint64(*maxClients)+64 {
		logger.Warn("bridge: open-file limit below -max-clients", "limit", n, "max_clients", *maxClients)
	}

	cfg := bridge.Config{
		AllowedOrigins: splitList(*origins),
		Peers:          peerURLs,
		StaticDir:      *html,
		AnnouncePort:   *announcePort,
		Logger:         logger,
		Limits: bridge.Limits{
			RequestsPerSecond: *rate, Burst: *burst, MaxStreams: *maxStreams, MaxBytesPerSecond: *maxBytes,
			MaxClients: *maxClients, MaxFrame: *maxFrame, MaxPending: *maxPending, DHTWorkers: *dhtWorkers,
			Window: *window, IdleTimeout: *idle,
		},
	}
	if *allowPrivate {
		cfg.DialPolicy = bridge.PermissiveDialPolicy
	}

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	if *datadir != "" {
		ch, err := chain.Open(*datadir, params, chain.WithLogger(logger))
		if err != nil {
			return fail("cannot open the chain in %s: %v", *datadir, err)
		}
		closers = append(closers, func() { ch.Close() })
		// The chain is kept in sync with twister nodes over P2P (outbound
		// only), and registrations from browsers are relayed to them.
		var relay func(*consensus.Tx) error
		if len(connect) > 0 {
			dialer := &net.Dialer{Timeout: 10 * time.Second}
			pn, err := p2p.New(p2p.Config{
				Params:      params,
				Chain:       ch,
				Dial:        func(ctx context.Context, addr string) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", addr) },
				ConnectOnly: connect,
				Logger:      logger,
				StartHeight: func() int32 { return int32(ch.Height()) },
			})
			if err != nil {
				return usage("-connect: %v", err)
			}
			if err := pn.Start(); err != nil {
				return fail("P2P: %v", err)
			}
			closers = append(closers, func() { pn.Close() })
			relay = func(tx *consensus.Tx) error {
				_, err := pn.BroadcastTx(tx.Bytes())
				return err
			}
		}
		cfg.Chain = bridge.FromChain(ch, relay)

		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(bindIP, uint16(*dhtPort))))
		if err != nil {
			return fail("cannot listen for the DHT on %s: %v", netip.AddrPortFrom(bindIP, uint16(*dhtPort)), err)
		}
		d, err := dht.New(dht.Config{Conn: conn, Chain: ch, Logger: logger})
		if err != nil {
			conn.Close()
			return fail("DHT: %v", err)
		}
		if err := d.Start(); err != nil {
			d.Close()
			return fail("DHT: %v", err)
		}
		closers = append(closers, func() { d.Close() })
		cfg.DHT = bridge.FromDHT(d)
		logger.Info("bridge: DHT running", "udp", d.LocalAddr().String(), "chain_height", ch.Height())
		if len(dhtNodes) > 0 {
			go bootstrap(ctx, d, dhtNodes, logger)
		}
	}
	if *swarmListen != "" {
		ln, err := net.Listen("tcp", *swarmListen)
		if err != nil {
			return fail("cannot listen for swarm peers on %s: %v", *swarmListen, err)
		}
		cfg.SwarmListener = ln // closed by the bridge
		logger.Info("bridge: swarm listener", "tcp", ln.Addr().String())
	}
	if *signalOn {
		sig, err := signaling.NewServer(signaling.Config{OriginPatterns: cfg.AllowedOrigins, Logger: logger})
		if err != nil {
			return usage("invalid -origins: %v", err)
		}
		closers = append(closers, func() { sig.Close() })
		cfg.Signal = sig
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		if cfg.SwarmListener != nil {
			cfg.SwarmListener.Close()
		}
		return usage("%v", err)
	}
	closers = append(closers, func() { srv.Close() })

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail("cannot listen on %s: %v", *listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	serveErr := make(chan error, 1)
	scheme := "ws"
	go func() {
		if *tlsCert != "" {
			serveErr <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	if *tlsCert != "" {
		scheme = "wss"
	}
	addr := ln.Addr().String()
	logger.Info("bridge: listening", "url", scheme+"://"+addr+bridge.WSPath, "signal", *signalOn, "html", *html, "origins", cfg.AllowedOrigins)
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-serveErr:
		return fail("serving on %s: %v", addr, err)
	case <-ctx.Done():
	}
	logger.Info("bridge: shutting down", "clients", srv.Stats().Clients)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx) // stops accepting; WebSockets are hijacked and closed by srv.Close
	srv.Close()
	if err != nil {
		return fail("shutdown: %v", err)
	}
	return 0
}

// bootstrap joins the DHT through the given nodes, retrying until one
// answers or ctx ends.
func bootstrap(ctx context.Context, d *dht.DHT, nodes []string, logger *slog.Logger) {
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		var addrs []netip.AddrPort
		for _, n := range nodes {
			ua, err := net.ResolveUDPAddr("udp", n)
			if err != nil {
				logger.Warn("bridge: cannot resolve DHT node", "node", n, "err", err)
				continue
			}
			addrs = append(addrs, ua.AddrPort())
		}
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := d.Bootstrap(bctx, addrs...)
		cancel()
		if err == nil {
			logger.Info("bridge: DHT bootstrapped", "nodes", d.Stats().Nodes)
			return
		}
		logger.Warn("bridge: DHT bootstrap failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// checkHostPort validates host:port without binding or resolving it.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("host %q is malformed", host)
	}
	return nil
}
