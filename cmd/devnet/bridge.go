package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/p2p"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/signaling"
	"github.com/gotwister/twister/web"
)

// webBridge is the devnet's bridge: its own copy of the chain (synced over
// P2P from the first node), a DHT node, a swarm listener for browser-held
// swarms, the WebRTC signaling server at /signal and the web client at /.
type webBridge struct {
	url     string // http://addr/
	wsURL   string // ws://addr/ws
	closers []func()
}

func (b *webBridge) Close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

func startBridge(ctx context.Context, addr, dir, nodeP2P, nodeDHT string, logOut io.Writer) (*webBridge, error) {
	b := &webBridge{}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	params := consensus.Regtest
	ch, err := chain.Open(filepath.Join(dir, "chain"), params, chain.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() { ch.Close() })
	dialer := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	pn, err := p2p.New(p2p.Config{
		Params:      params,
		Chain:       ch,
		Dial:        func(ctx context.Context, a string) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", a) },
		ConnectOnly: []string{nodeP2P},
		Logger:      logger,
		StartHeight: func() int32 { return int32(ch.Height()) },
	})
	if err != nil {
		return nil, err
	}
	if err := pn.Start(); err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() { pn.Close() })

	udp, err := net.ListenPacket("udp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return nil, fmt.Errorf("bridge DHT: %w", err)
	}
	d, err := dht.New(dht.Config{Conn: udp, Chain: ch, Logger: logger})
	if err != nil {
		udp.Close()
		return nil, err
	}
	if err := d.Start(); err != nil {
		d.Close()
		return nil, err
	}
	b.closers = append(b.closers, func() { d.Close() })
	if ap, err := netip.ParseAddrPort(nodeDHT); err == nil {
		go func() {
			bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			d.Bootstrap(bctx, ap)
		}()
	}
	swarmLn, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return nil, err
	}
	sig, err := signaling.NewServer(signaling.Config{Logger: logger})
	if err != nil {
		swarmLn.Close()
		return nil, err
	}
	b.closers = append(b.closers, func() { sig.Close() })
	srv, err := bridge.New(bridge.Config{
		DHT:           bridge.FromDHT(d),
		Chain:         bridge.FromChain(ch, func(tx *consensus.Tx) error { _, err := pn.BroadcastTx(tx.Bytes()); return err }),
		SwarmListener: swarmLn,
		DialPolicy:    bridge.PermissiveDialPolicy, // the devnet's peers are on loopback
		Signal:        sig,
		Logger:        logger,
	})
	if err != nil {
		swarmLn.Close()
		return nil, err
	}
	b.closers = append(b.closers, func() { srv.Close() })

	mux := http.NewServeMux()
	for _, p := range []string{bridge.WSPath, "/healthz", "/metrics", "/signal"} {
		mux.Handle(p, srv)
	}
	mux.Handle("/", web.Handler())
	var ln net.Listener
	for _, port := range []string{"8090", "8091", "8092", "0"} {
		if ln, err = net.Listen("tcp", net.JoinHostPort(addr, port)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bridge HTTP: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("bridge http", "err", err)
		}
	}()
	b.closers = append(b.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hs.Shutdown(sctx)
		cancel()
	})
	host := ln.Addr().String()
	b.url = "http://" + host + "/"
	b.wsURL = "ws://" + host + bridge.WSPath
	ok = true
	return b, nil
}
