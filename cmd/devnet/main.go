// Command devnet is what `make run` starts: a small living twister network
// on loopback, on the regtest chain, with no set-up. Two native nodes (each
// a full twisterd, JSON-RPC included) on 127.0.1.1 and 127.0.1.2 share a
// chain over P2P, a DHT over UDP and post swarms over TCP; they mine a block
// whenever a registration waits. A bridge on 127.0.1.9 (with its own copy
// of the chain, a DHT node, the signaling server and the web client) lets
// browsers in. Demo users register, follow each other and post, so a
// newcomer who opens the printed address sees a working network. Ctrl-C
// stops everything cleanly.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gotwister/twister/node"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devnet:", err)
		os.Exit(1)
	}
}

type member struct {
	name string
	*node.Node
	rpcURL string
}

func run() error {
	base := flag.String("base", "127.0.1", "first three bytes of the loopback addresses (nodes get .1, .2, …)")
	nodes := flag.Int("nodes", 2, "number of native nodes")
	dir := flag.String("datadir", "", "data directory (default: a temporary one, removed on exit)")
	verbose := flag.Bool("v", false, "show the nodes' logs")
	flag.Parse()
	if *nodes < 1 || *nodes > 9 {
		return errors.New("-nodes must be between 1 and 9")
	}
	root := *dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "twister-devnet-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	var logOut io.Writer = io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var members []*member
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	var first string
	for i := 1; i <= *nodes; i++ {
		addr := fmt.Sprintf("%s.%d", *base, i)
		m, err := startNode(fmt.Sprintf("node%c", 'A'+i-1), addr, filepath.Join(root, strconv.Itoa(i)), first, logOut)
		if err != nil {
			return err
		}
		if first == "" {
			first = net.JoinHostPort(addr, strconv.Itoa(m.p2pPort))
		}
		members = append(members, m.member)
	}
	host, port, _ := net.SplitHostPort(first)
	pn, _ := strconv.Atoi(port)
	br, err := startBridge(ctx, fmt.Sprintf("%s.%d", *base, 9), filepath.Join(root, "bridge"), first,
		net.JoinHostPort(host, strconv.Itoa(pn+node.LibtorrentPortOffset)), logOut)
	if err != nil {
		return fmt.Errorf("starting the bridge: %w", err)
	}
	defer br.Close()
	fmt.Println("twister devnet (regtest) is running:")
	fmt.Printf("  web client   %sapp/?network=regtest&bridge=%s\n", br.url, br.wsURL)
	fmt.Printf("  bridge       %s  (signaling at /signal, health at /healthz, metrics at /metrics)\n", br.wsURL)
	for _, m := range members {
		fmt.Printf("  %s  JSON-RPC %s  (user %q, password %q; twisterd-compatible)\n", m.name, m.rpcURL, "user", "pass")
	}
	go mineWhenWaiting(ctx, members)
	if err := seed(ctx, members); err != nil {
		fmt.Fprintln(os.Stderr, "devnet: seeding demo users:", err)
	} else {
		fmt.Println("demo users alice and bob (on nodeA) and carol (on the last node) have posted; try:")
		fmt.Printf("  curl -s -u user:pass -d '{\"method\":\"getposts\",\"params\":[10,[{\"username\":\"alice\"},{\"username\":\"bob\"},{\"username\":\"carol\"}]]}' %s\n", members[len(members)-1].rpcURL)
	}
	fmt.Println("Ctrl-C stops the network.")
	go chatter(ctx, members)
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}

type started struct {
	*member
	p2pPort int
}

// startNode starts a regtest node on addr, trying the default ports first.
func startNode(name, addr, dir, connect string, logOut io.Writer) (*started, error) {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		p2p, rpcPort := node.RegtestP2PPort, node.RegtestRPCPort
		if attempt > 0 {
			p2p = 20000 + (os.Getpid()*7+attempt*131)%20000
			rpcPort = p2p + 1
		}
		args := []string{"-regtest", "-datadir=" + dir, "-bind=" + addr, "-rpcbind=" + addr,
			"-port=" + strconv.Itoa(p2p), "-rpcport=" + strconv.Itoa(rpcPort), "-rpcuser=user", "-rpcpassword=pass"}
		if connect != "" {
			host, port, _ := net.SplitHostPort(connect)
			pn, _ := strconv.Atoi(port)
			args = append(args, "-addnode="+connect, "-dhtnode="+net.JoinHostPort(host, strconv.Itoa(pn+node.LibtorrentPortOffset)))
		}
		cfg, err := node.ParseArgs(args, io.Discard)
		if err != nil {
			return nil, err
		}
		n, err := node.New(cfg, logOut)
		if err != nil {
			lastErr = err
			continue
		}
		if err := n.Start(); err != nil {
			n.Close()
			return nil, err
		}
		return &started{member: &member{name: name, Node: n, rpcURL: "http://" + n.RPCAddr() + "/"}, p2pPort: p2p}, nil
	}
	return nil, fmt.Errorf("cannot start %s on %s: %w", name, addr, lastErr)
}

// call makes a JSON-RPC call on a member.
func (m *member) call(method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	req, _ := http.NewRequest("POST", m.rpcURL, bytes.NewReader(body))
	req.SetBasicAuth("user", "pass")
	c := http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, fmt.Errorf("%s: %s (%d)", method, r.Error.Message, r.Error.Code)
	}
	return r.Result, nil
}

// mineWhenWaiting mines one block on the first node whenever any node has a
// registration waiting, as a local network needs no miners otherwise.
func mineWhenWaiting(ctx context.Context, members []*member) {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, m := range members {
			if m.Chain.MempoolSize() > 0 {
				m.call("setgenerate", true, 1)
				break
			}
		}
	}
}

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// seed registers the demo users and has them follow each other and post.
func seed(ctx context.Context, members []*member) error {
	a, c := members[0], members[len(members)-1]
	homes := map[string]*member{"alice": a, "bob": a, "carol": c}
	for _, u := range []string{"alice", "bob", "carol"} {
		m := homes[u]
		if m.Wallet.Has(u) {
			continue
		}
		if _, err := m.call("createwalletuser", u); err != nil {
			return err
		}
		if _, err := m.call("sendnewusertransaction", u); err != nil {
			return err
		}
	}
	// Registration needs its block plus one more before the first post.
	if err := waitUntil(ctx, 60*time.Second, func() bool {
		for _, m := range members {
			for _, u := range []string{"alice", "bob", "carol"} {
				if !m.Chain.UserExists(u) {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("registrations did not reach every node: %w", err)
	}
	h := a.Chain.Height()
	a.call("setgenerate", true, 1)
	if err := waitUntil(ctx, 30*time.Second, func() bool { return c.Chain.Height() > h }); err != nil {
		return fmt.Errorf("the chain did not advance: %w", err)
	}
	for u, m := range homes {
		others := []string{"alice", "bob", "carol"}
		if _, err := m.call("follow", u, others); err != nil {
			return err
		}
	}
	posts := []struct {
		user, text string
	}{
		{"alice", "hello twister, from a Go node on a local network"},
		{"bob", "hi @alice! #twister runs in Go now"},
		{"carol", "greetings from the other node, @bob #golang"},
	}
	for _, p := range posts {
		m := homes[p.user]
		k := m.Node.LastHave(p.user) + 1
		if _, err := m.call("newpostmsg", p.user, k, p.text); err != nil {
			return err
		}
	}
	return nil
}

// chatter keeps the network alive: every now and then a demo user posts.
func chatter(ctx context.Context, members []*member) {
	lines := []string{
		"the DHT keeps profiles, replies and mentions",
		"every post is a piece of its author's swarm",
		"a bridge lets browsers join the same network",
		"usernames live in a block chain with proof of work",
	}
	a := members[0]
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Second):
		}
		user := []string{"alice", "bob"}[i%2]
		if !a.Wallet.Has(user) {
			continue
		}
		k := a.Node.LastHave(user) + 1
		a.call("newpostmsg", user, k, lines[i%len(lines)])
	}
}
