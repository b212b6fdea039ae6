// Command signaling runs the WebRTC signaling rendezvous of package
// signaling on its own: browser nodes connect with a WebSocket, join their
// swarms and exchange offers, answers and ICE candidates. GET /stats returns
// the server's counters as JSON. SIGINT or SIGTERM closes every connection
// (status 1001) and exits.
//
// Usage:
//
//	signaling [-listen 127.0.0.1:8089] [-origins host,pattern,...] [limits]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gotwister/twister/signaling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status (0 after a clean
// shutdown, 1 on a runtime failure, 2 on bad usage). If ready is not nil it
// receives the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("signaling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8089", "`address` to listen on (host:port)")
	origins := fs.String("origins", "", "comma-separated browser origins allowed besides same-origin, as host `patterns` (example.org, *.example.org, localhost:*, https://example.org)")
	maxMsg := fs.Int("max-message", 16<<10, "largest frame accepted, in `bytes`")
	rate := fs.Float64("rate", 20, "frames per second allowed per connection")
	burst := fs.Int("burst", 40, "frames allowed at once per connection")
	maxSwarms := fs.Int("max-swarms", 32, "swarms one connection may join")
	maxMembers := fs.Int("max-swarm-peers", 1000, "members of one swarm")
	maxListed := fs.Int("max-peers-listed", 30, "peer ids sent in answer to a join (random subset)")
	maxConns := fs.Int("max-connections", 10000, "open WebSockets")
	idle := fs.Duration("idle", 60*time.Second, "close connections silent for this long (pings are sent meanwhile)")
	verbose := fs.Bool("v", false, "log every connection")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: signaling [flags]\n\nWebRTC signaling server for twister browser nodes.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package already printed the error and usage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "signaling: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	if err := checkListen(*listen); err != nil {
		return usage("invalid -listen %q: %v", *listen, err)
	}
	for name, v := range map[string]int{"-max-message": *maxMsg, "-burst": *burst, "-max-swarms": *maxSwarms,
		"-max-swarm-peers": *maxMembers, "-max-peers-listed": *maxListed, "-max-connections": *maxConns} {
		if v <= 0 {
			return usage("%s must be positive, got %d", name, v)
		}
	}
	if *rate <= 0 {
		return usage("-rate must be positive, got %v", *rate)
	}
	if *idle < time.Second {
		return usage("-idle must be at least 1s, got %v", *idle)
	}
	var patterns []string
	for _, p := range strings.Split(*origins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := signaling.NewServer(signaling.Config{
		OriginPatterns:    patterns,
		MaxMessageBytes:   *maxMsg,
		MessagesPerSecond: *rate,
		Burst:             *burst,
		MaxSwarmsPerPeer:  *maxSwarms,
		MaxPeersPerSwarm:  *maxMembers,
		MaxPeersListed:    *maxListed,
		MaxConnections:    *maxConns,
		IdleTimeout:       *idle,
		Logger:            logger,
	})
	if err != nil {
		return usage("invalid -origins: %v", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "signaling: cannot listen on %s: %v\n", *listen, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(srv.Stats())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	addr := ln.Addr().String()
	logger.Info("signaling: listening", "url", "ws://"+addr+"/", "stats", "http://"+addr+"/stats", "origins", patterns)
	if ready != nil {
		ready <- addr
	}

	select {
	case err := <-serveErr:
		srv.Close()
		fmt.Fprintf(stderr, "signaling: serving on %s: %v\n", addr, err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("signaling: shutting down", "stats", fmt.Sprintf("%+v", srv.Stats()))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx) // stop accepting; WebSockets are hijacked, closed below
	srv.Close()
	if err != nil {
		fmt.Fprintf(stderr, "signaling: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// checkListen validates a host:port listen address without binding it.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("host %q is malformed", host)
	}
	return nil
}
