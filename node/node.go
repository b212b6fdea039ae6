package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/p2p"
	"github.com/gotwister/twister/rpc"
	"github.com/gotwister/twister/wallet"
)

// Version numbers reported by getinfo, as twisterd 0.9.40 reports them.
const (
	ClientVersion   = 94000
	ProtocolVersion = 70003
	WalletVersion   = 60000
)

// Node is a running twister node.
type Node struct {
	cfg    *Config
	params *consensus.Params
	log    *slog.Logger
	lock   *os.File

	Chain  *chain.Chain
	Wallet *wallet.Wallet
	RPC    *rpc.Server
	P2P    *p2p.Node
	Miner  *p2p.Miner
	p2pLn  net.Listener

	rpcLn   net.Listener
	httpSrv *http.Server

	mu       sync.Mutex
	spamUser string
	spamMsg  string
	spamLang string

	// statsHook adds the networks' figures to getinfo; set as the
	// networks open.
	statsHook []func(*netStats)
	// onWalletChange runs when keys become usable (import, unlock).
	onWalletChange []func()

	net       networks
	puts      *putQueue // DHT resources of new posts, published in the background
	followSeq map[string]int64
	profiles  map[string]map[string]any

	neighbors       []string
	neighborChecked map[string]time.Time
	unsub           func()

	closeOnce sync.Once
	stopped   chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
}

// New opens the data directory, the chain and the wallet and binds every
// listening socket, so that a busy port or an unusable directory is reported
// before anything runs.
func New(cfg *Config, logOut io.Writer) (*Node, error) {
	if logOut == nil {
		logOut = io.Discard
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	n := &Node{
		cfg:      cfg,
		log:      slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})),
		spamUser: consensus.NobodyUser,
		spamMsg:  consensus.DefaultPromotedMessage,
		spamLang: "[en]",
		stopped:  make(chan struct{}),
	}
	n.puts = newPutQueue(n, 1)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.params = consensus.Mainnet
	if cfg.Regtest {
		n.params = consensus.Regtest
	}
	dir := cfg.NetDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot use data directory %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot use data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("cannot obtain a lock on data directory %s: twisterd is probably already running", dir)
	}
	n.lock = lock
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()
	// Block times are checked against the network-adjusted clock, which
	// the P2P layer measures from its peers' version messages.
	clock := func() time.Time {
		if n.P2P != nil {
			return n.P2P.AdjustedTime()
		}
		return time.Now()
	}
	if n.Chain, err = chain.Open(filepath.Join(dir, "chain"), n.params, chain.WithLogger(n.log), chain.WithClock(clock)); err != nil {
		return nil, fmt.Errorf("cannot open the block chain in %s: %w", dir, err)
	}
	if n.Wallet, err = wallet.Open(filepath.Join(dir, "wallet.json")); err != nil {
		return nil, err
	}
	rpcAddr := net.JoinHostPort(cfg.RPCBind, Itoa(cfg.RPCPort))
	if n.rpcLn, err = net.Listen("tcp", rpcAddr); err != nil {
		return nil, fmt.Errorf("cannot listen for JSON-RPC on %s: %w", rpcAddr, err)
	}
	n.RPC = rpc.NewServer(cfg.RPCUser, cfg.RPCPassword)
	n.RPC.HTMLDir = cfg.HTMLDir
	if n.RPC.HTMLDir == "" {
		n.RPC.HTMLDir = filepath.Join(dir, "html")
	}
	if err := n.openP2P(); err != nil {
		return nil, err
	}
	if err := n.openNetworks(); err != nil {
		return nil, err
	}
	n.registerChainMethods()
	n.registerWalletMethods()
	n.registerWalletFileMethods()
	n.registerWalletTxMethods()
	n.registerSocialMethods()
	ok = true
	return n, nil
}

// Start serves JSON-RPC and starts the networks.
func (n *Node) Start() error {
	n.httpSrv = &http.Server{Handler: n.RPC, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := n.httpSrv.Serve(n.rpcLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("rpc server", "err", err)
		}
	}()
	n.indexChain()
	n.unsub = n.Chain.Subscribe(n.onTipChange)
	if err := n.startNetworks(); err != nil {
		return err
	}
	if err := n.P2P.Start(); err != nil {
		return err
	}
	if n.cfg.Gen {
		n.Miner.SetProcLimit(n.cfg.GenProcs)
		n.Miner.SetGenerate(true)
	}
	n.log.Info("twister node started", "network", n.params.Name, "height", n.Chain.Height(), "rpc", n.rpcLn.Addr().String())
	return nil
}

// RPCAddr is the address the JSON-RPC server listens on.
func (n *Node) RPCAddr() string { return n.rpcLn.Addr().String() }

// Done is closed when the node has stopped (after Close or the stop RPC).
func (n *Node) Done() <-chan struct{} { return n.stopped }

// Close stops everything and closes the stores.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		if n.Miner != nil {
			n.Miner.Close()
		}
		if n.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n.httpSrv.Shutdown(ctx)
			cancel()
		}
		if n.unsub != nil {
			n.unsub()
		}
		n.closeAll()
		close(n.stopped)
	})
	return nil
}

func (n *Node) closeAll() {
	if n.P2P != nil {
		n.P2P.Close()
	}
	if n.p2pLn != nil {
		n.p2pLn.Close()
	}
	n.closeNetworks()
	if n.rpcLn != nil {
		n.rpcLn.Close()
	}
	if n.Chain != nil {
		n.Chain.Close()
	}
	if n.lock != nil {
		n.lock.Close()
	}
}

// netStats gathers the networks' figures for getinfo.
func (n *Node) netStats() netStats {
	var st netStats
	for _, f := range n.statsHook {
		f(&st)
	}
	return st
}

// indexChain brings the promoted-message index up to the chain (at start).
func (n *Node) indexChain() {
	tip := n.Chain.Height()
	from := max(tip-1000, 0)
	for h := from; h <= tip; h++ {
		n.indexBlockAt(h, false)
	}
}

func (n *Node) indexBlockAt(h int64, fresh bool) {
	b, err := n.Chain.BlockByHeight(h)
	if err != nil || len(b.Txs) == 0 {
		return
	}
	cb := b.Txs[0]
	user, msg := firstPush(cb.UserName), firstPush(cb.Message)
	n.net.Index.AddSpam(h, user, msg, int64(b.Header.Time))
	if fresh {
		n.net.Index.ReceivedSpam(user, msg, h)
	}
}

// onTipChange keeps the promoted messages in step with the chain and
// promotes a replacement key once its transaction is in a block.
func (n *Node) onTipChange(ch chain.TipChange) {
	if len(ch.Disconnected) > 0 {
		n.net.Index.RemoveSpamFrom(ch.NewHeight - int64(len(ch.Connected)) + 1)
	}
	for i := range ch.Connected {
		n.indexBlockAt(ch.NewHeight-int64(len(ch.Connected))+1+int64(i), true)
	}
	for _, u := range n.Wallet.Users() {
		r, err := n.Wallet.Replacement(u)
		if err != nil {
			continue
		}
		if k, err := n.Chain.KeyAt(u, -1); err == nil && k.Equal(r.PubKey()) {
			if err := n.Wallet.PromoteReplacement(u); err == nil {
				n.log.Info("key replacement confirmed", "user", u)
			}
		}
	}
}

// openP2P binds the chain's P2P listener and prepares the peer layer and
// the miner.
func (n *Node) openP2P() error {
	var err error
	if n.cfg.Listen {
		addr := net.JoinHostPort(n.cfg.BindAddr(), Itoa(n.cfg.Port))
		if n.p2pLn, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("cannot listen for P2P on %s: %w", addr, err)
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if n.cfg.Bind != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(n.cfg.Bind)}
	}
	cfg := p2p.Config{
		Params:      n.params,
		Chain:       n.Chain,
		Dial:        func(ctx context.Context, addr string) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", addr) },
		ConnectOnly: n.cfg.Connect,
		AddNodes:    n.cfg.AddNode,
		Logger:      n.log.With("sub", "p2p"),
		StartHeight: func() int32 { return int32(n.Chain.Height()) },
		OnTxAccepted: func(*consensus.Tx) {
			if n.Miner != nil {
				n.Miner.Notify()
			}
		},
	}
	if n.p2pLn != nil {
		cfg.Listen = n.p2pLn
	}
	if n.P2P, err = p2p.New(cfg); err != nil {
		return fmt.Errorf("cannot start P2P: %w", err)
	}
	n.Miner, err = p2p.NewMiner(p2p.MinerConfig{
		Chain:     n.Chain,
		Broadcast: n.P2P.BroadcastBlock,
		Peers:     n.P2P.ConnectionCount,
		Logger:    n.log.With("sub", "miner"),
	})
	if err != nil {
		return fmt.Errorf("cannot start the miner: %w", err)
	}
	n.statsHook = append(n.statsHook, func(st *netStats) {
		st.connections = n.P2P.ConnectionCount()
		st.timeOffset = int64(n.P2P.TimeOffset() / time.Second)
	})
	return nil
}
