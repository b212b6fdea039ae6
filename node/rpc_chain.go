package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/p2p"
	"github.com/gotwister/twister/rpc"
)

// fixed8 renders a real number as twisterd's json_spirit does (8 decimals).
type fixed8 float64

func (f fixed8) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("0.00000000"), nil
	}
	return []byte(strconv.FormatFloat(float64(f), 'f', 8, 64)), nil
}

func (n *Node) method(name, usage, help string, min, max int, h func(ctx context.Context, p rpc.Params) (any, error)) {
	n.RPC.Register(name, rpc.Method{Usage: usage, Help: help, MinParams: min, MaxParams: max, Handler: h})
}

func (n *Node) difficulty() fixed8 {
	return fixed8(consensus.Difficulty(n.Chain.Tip().Header.Bits))
}

func (n *Node) registerChainMethods() {
	n.method("getblockcount", "getblockcount", "Returns the number of blocks in the longest block chain.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.Chain.Height(), nil })
	n.method("getbestblockhash", "getbestblockhash", "Returns the hash of the best (tip) block in the longest block chain.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.Chain.Tip().Hash.String(), nil })
	n.method("getdifficulty", "getdifficulty", "Returns the proof-of-work difficulty as a multiple of the minimum difficulty.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.difficulty(), nil })
	n.method("getblockhash", "getblockhash <index>", "Returns hash of block in best-block-chain at <index>.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			h, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			if h < 0 || h > n.Chain.Height() {
				return nil, rpc.Errorf(rpc.CodeMisc, "Block number out of range.")
			}
			hash, err := n.Chain.HashByHeight(h)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeMisc, "Block number out of range.")
			}
			return hash.String(), nil
		})
	n.method("getblock", "getblock <hash> [verbose=true]", "If verbose is false, returns a string that is serialized, hex-encoded data for block <hash>.\nIf verbose is true, returns an Object with information about block <hash>.", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			s, err := p.String(0)
			if err != nil {
				return nil, err
			}
			verbose, err := p.BoolOr(1, true)
			if err != nil {
				return nil, err
			}
			h, err := consensus.ParseHash(s)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "Block not found")
			}
			b, err := n.Chain.BlockByHash(h)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "Block not found")
			}
			if !verbose {
				return hex.EncodeToString(b.Bytes()), nil
			}
			info, err := n.Chain.BlockInfo(h)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "Block not found")
			}
			return n.blockJSON(b, info), nil
		})
	n.method("getrawtransaction", "getrawtransaction <username> [verbose=0]", "If verbose=0, returns a string that is serialized, hex-encoded data for the registration of <username>.\nIf verbose is non-zero, returns an Object with information about it.", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			verbose, err := p.IntOr(1, 0)
			if err != nil {
				return nil, err
			}
			tx, blockHash, err := n.Chain.RegistrationTx(name)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "No information available about transaction")
			}
			if verbose == 0 {
				return hex.EncodeToString(tx.Bytes()), nil
			}
			out := txJSON(tx)
			out["hex"] = hex.EncodeToString(tx.Bytes())
			if info, err := n.Chain.BlockInfo(blockHash); err == nil {
				out["blockhash"] = blockHash.String()
				out["height"] = info.Height
				out["confirmations"] = n.Chain.Height() - info.Height + 1
				out["time"] = int64(info.Header.Time)
				out["blocktime"] = int64(info.Header.Time)
			}
			return out, nil
		})
	n.method("decoderawtransaction", "decoderawtransaction <hex string>", "Return a JSON object representing the serialized, hex-encoded transaction.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			tx, err := parseTxHex(p)
			if err != nil {
				return nil, err
			}
			return txJSON(tx), nil
		})
	n.method("sendrawtransaction", "sendrawtransaction <hex string>", "Submits raw transaction (serialized, hex-encoded) to local node and network.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			tx, err := parseTxHex(p)
			if err != nil {
				return nil, err
			}
			if err := n.submitTx(tx); err != nil {
				return nil, err
			}
			return tx.Hash().String(), nil
		})
	n.method("getrawmempool", "getrawmempool", "Returns all transaction ids in memory pool.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			out := []string{}
			for _, tx := range n.Chain.MempoolTxs() {
				out = append(out, tx.Hash().String())
			}
			return out, nil
		})
	n.method("listusernamespartial", "listusernamespartial <username_starts_with> <count> [exact_match=false]", "get list of usernames starting with", 2, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			prefix, err := p.String(0)
			if err != nil {
				return nil, err
			}
			count, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			exact, err := p.BoolOr(2, false)
			if err != nil {
				return nil, err
			}
			out := []string{}
			if prefix == "" || count <= 0 {
				return out, nil // twisterd answers an empty prefix with nothing
			}
			if exact {
				if n.Chain.UserExists(prefix) {
					out = append(out, prefix)
				}
				return out, nil
			}
			return append(out, n.Chain.ListUsernames(prefix, int(min(count, 1000)))...), nil
		})
	n.method("usernametouid", "usernametouid <username> [last=true]", "convert username to uid (tx index)", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			last, err := p.BoolOr(1, true)
			if err != nil {
				return nil, err
			}
			if !last {
				return nil, rpc.Errorf(rpc.CodeInternal, "UsernameToTxNum failed")
			}
			num, err := n.Chain.UsernameToTxNum(name)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "UsernameToTxNum failed")
			}
			return num, nil
		})
	n.method("uidtousername", "uidtousername <uid>", "convert uid (tx index) to username", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			uid, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			if uid < 0 {
				return nil, rpc.Errorf(rpc.CodeInternal, "TxNumToUsername failed")
			}
			name, err := n.Chain.TxNumToUsername(uint64(uid))
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "TxNumToUsername failed")
			}
			return name, nil
		})
	n.method("getgenerate", "getgenerate", "Returns true or false.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.Miner.Generate(), nil })
	n.method("setgenerate", "setgenerate <generate> [genproclimit]", "<generate> is true or false to turn generation on or off.\nGeneration is limited to [genproclimit] processors, -1 is unlimited.", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			on, err := p.Bool(0)
			if err != nil {
				return nil, err
			}
			if p.Has(1) {
				procs, err := p.Int(1)
				if err != nil {
					return nil, err
				}
				if procs < -1 || procs > 1024 {
					return nil, rpc.Errorf(rpc.CodeInvalidParam, "genproclimit must be -1 (all cores) or 0 to 1024")
				}
				n.Miner.SetProcLimit(int(procs))
			}
			n.updatePromoted()
			n.Miner.SetGenerate(on)
			return nil, nil
		})
	n.method("gethashespersec", "gethashespersec", "Returns a recent hashes per second performance measurement while generating.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.Miner.HashesPerSec(), nil })
	n.method("getmininginfo", "getmininginfo", "Returns an object containing mining-related information.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			size, ntx := n.Miner.LastTemplate()
			return map[string]any{
				"blocks": n.Chain.Height(), "currentblocksize": size, "currentblocktx": ntx,
				"difficulty": n.difficulty(), "errors": "", "generate": n.Miner.Generate(), "genproclimit": n.Miner.ProcLimit(),
				"hashespersec": n.Miner.HashesPerSec(), "pooledtx": n.Chain.MempoolSize(), "testnet": false,
			}, nil
		})
	n.method("getpeerinfo", "getpeerinfo", "Returns data about each connected network node.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			peers := n.P2P.Peers()
			if peers == nil {
				peers = []p2p.PeerInfo{}
			}
			return peers, nil
		})
	n.method("getconnectioncount", "getconnectioncount", "Returns the number of connections to other nodes.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.P2P.ConnectionCount(), nil })
	n.method("addnode", "addnode <node> <add|remove|onetry>", "Attempts add or remove <node> from the addnode list or try a connection to <node> once.", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			addr, err := p.String(0)
			if err != nil {
				return nil, err
			}
			cmd, err := p.String(1)
			if err != nil {
				return nil, err
			}
			if cmd != "add" && cmd != "remove" && cmd != "onetry" {
				return nil, rpc.Errorf(rpc.CodeMisc, "addnode <node> <add|remove|onetry>\nAttempts add or remove <node> from the addnode list or try a connection to <node> once.")
			}
			switch err := n.P2P.AddNode(addr, cmd); {
			case err == nil:
				return nil, nil
			case errors.Is(err, p2p.ErrNodeAlreadyAdded):
				return nil, rpc.Errorf(-23, "Error: Node already added")
			case errors.Is(err, p2p.ErrNodeNotAdded):
				return nil, rpc.Errorf(-24, "Error: Node has not been added.")
			default:
				return nil, rpc.Errorf(rpc.CodeMisc, "%v", err)
			}
		})
	n.method("verifychain", "verifychain [check level] [num blocks]", "Verifies blockchain database.", 0, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.IntOr(0, 3); err != nil {
				return nil, err
			}
			depth, err := p.IntOr(1, 288)
			if err != nil {
				return nil, err
			}
			return n.verifyChain(ctx, depth), nil
		})
	n.method("adddnsseed", "adddnsseed <seeder>", "Add a different DNS <seeder> to obtain node list from.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			seed, err := p.String(0)
			if err != nil {
				return nil, err
			}
			addrs, err := n.seedAddrs(ctx, seed)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeMisc, "%v", err)
			}
			for _, a := range addrs {
				if err := n.P2P.AddNode(a.String(), "onetry"); err != nil {
					return nil, rpc.Errorf(rpc.CodeMisc, "%v", err)
				}
			}
			return nil, nil
		})
	n.method("getaddednodeinfo", "getaddednodeinfo <dns> [node]", "Returns information about the given added node, or all added nodes.", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.Bool(0); err != nil {
				return nil, err
			}
			out := []map[string]any{}
			for _, a := range n.P2P.AddedNodes() {
				out = append(out, map[string]any{"addednode": a})
			}
			return out, nil
		})
	n.method("getinfo", "getinfo", "Returns an object containing various state info.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) { return n.info(), nil })
	n.method("stop", "stop", "Stop Twister server.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			go func() {
				time.Sleep(100 * time.Millisecond)
				n.Close()
			}()
			return "Twister server stopping", nil
		})
	n.method("help", "help [command]", "List commands, or get help for a command.", 0, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.StringOr(0, "")
			if err != nil {
				return nil, err
			}
			text, _ := n.RPC.HelpText(name)
			return text, nil
		})
	n.method("getspammsg", "getspammsg", "get spam message attached to generated blocks", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			return []string{n.spamUser, n.spamMsg}, nil
		})
	n.method("setspammsg", "setspammsg <username> <msg> [add|remove|replace]", "set spam message attached to generated blocks", 2, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			user, err := p.String(0)
			if err != nil {
				return nil, err
			}
			msg, err := p.String(1)
			if err != nil {
				return nil, err
			}
			op, err := p.StringOr(2, "replace")
			if err != nil {
				return nil, err
			}
			if op != "replace" && op != "add" && op != "remove" {
				return nil, rpc.Errorf(rpc.CodeMisc, "setspammsg <username> <msg> [add|remove|replace]")
			}
			if n := []rune(msg); len(n) == 0 || len(n) > consensus.MaxPromotedMessageChars {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "promoted message must have 1 to 140 characters")
			}
			n.mu.Lock()
			n.spamUser, n.spamMsg = user, msg
			n.mu.Unlock()
			n.updatePromoted()
			return []string{msg}, nil
		})
	n.method("getpreferredspamlang", "getpreferredspamlang", "get preferred spam language", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.spamLang, nil
		})
	n.method("setpreferredspamlang", "setpreferredspamlang <langcode>", "set preferred spam language (or 'ignoreSpam')", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			lang, err := p.String(0)
			if err != nil {
				return nil, err
			}
			if lang != "ignoreSpam" && !strings.HasPrefix(lang, "[") {
				lang = "[" + lang + "]"
			}
			n.mu.Lock()
			n.spamLang = lang
			n.mu.Unlock()
			return nil, nil
		})
}

func parseTxHex(p rpc.Params) (*consensus.Tx, error) {
	s, err := p.String(0)
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInvalidParam, "argument must be hexadecimal string (not '%s')", s)
	}
	tx, err := consensus.DecodeTx(raw)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeDeserialization, "TX decode failed")
	}
	return tx, nil
}

// submitTx puts a registration into the mempool and relays it.
func (n *Node) submitTx(tx *consensus.Tx) error {
	if _, ok := n.Chain.MempoolTx(tx.Hash()); ok {
		return rpc.Errorf(rpc.CodeDeserialization, "TX rejected")
	}
	if _, err := n.P2P.BroadcastTx(tx.Bytes()); err != nil {
		n.log.Info("transaction rejected", "tx", tx.Hash().String(), "err", err)
		return rpc.Errorf(rpc.CodeDeserialization, "TX rejected")
	}
	return nil
}

// updatePromoted gives the miner the promoted message and, when the wallet
// holds the user's key, the key to sign it.
func (n *Node) updatePromoted() {
	n.mu.Lock()
	user, msg := n.spamUser, n.spamMsg
	n.mu.Unlock()
	key, err := n.Wallet.Key(user)
	if err != nil {
		key = nil
	}
	n.Miner.SetPromoted(user, key, msg)
}

func pushesHex(script []byte) []string {
	out := []string{}
	pushes, err := consensus.ParsePushes(script)
	if err != nil {
		return out
	}
	for _, p := range pushes {
		out = append(out, hex.EncodeToString(p))
	}
	return out
}

func firstPush(script []byte) string {
	pushes, err := consensus.ParsePushes(script)
	if err != nil || len(pushes) == 0 {
		return ""
	}
	return string(pushes[0])
}

// txJSON is decoderawtransaction's shape; its "txid" is the username hash,
// as twisterd prints it (§11.6).
func txJSON(tx *consensus.Tx) map[string]any {
	name := firstPush(tx.UserName)
	return map[string]any{
		"txid":     consensus.UsernameHash(name).String(),
		"version":  tx.Version,
		"message":  firstPush(tx.Message),
		"username": name,
		"pubKey":   pushesHex(tx.PubKey),
		"nonce":    tx.Nonce,
	}
}

func (n *Node) blockJSON(b *consensus.Block, info *chain.BlockInfo) map[string]any {
	txs := []string{}
	hashes := []string{}
	names := []string{}
	spamMsg, spamUser := "", ""
	for i, tx := range b.Txs {
		txs = append(txs, tx.Hash().String())
		if i == 0 {
			spamMsg, spamUser = firstPush(tx.Message), firstPush(tx.UserName)
			continue
		}
		name := firstPush(tx.UserName)
		names = append(names, name)
		hashes = append(hashes, consensus.UsernameHash(name).String())
	}
	out := map[string]any{
		"hash":          info.Hash.String(),
		"confirmations": int64(0),
		"size":          b.SerializeSize(),
		"height":        info.Height,
		"version":       b.Header.Version,
		"merkleroot":    b.Header.MerkleRoot.String(),
		"tx":            txs,
		"spamMessage":   spamMsg,
		"spamUser":      spamUser,
		"userhashes":    hashes,
		"usernames":     names,
		"time":          int64(b.Header.Time),
		"nonce":         b.Header.Nonce,
		"bits":          strconv.FormatUint(uint64(b.Header.Bits), 16),
		"difficulty":    fixed8(consensus.Difficulty(b.Header.Bits)),
	}
	if info.MainChain {
		out["confirmations"] = n.Chain.Height() - info.Height + 1
	} else {
		out["confirmations"] = int64(-1)
	}
	if !b.Header.PrevBlock.IsZero() {
		out["previousblockhash"] = b.Header.PrevBlock.String()
	}
	if !info.Next.IsZero() {
		out["nextblockhash"] = info.Next.String()
	}
	return out
}

// info is getinfo's result, with the fields twisterd reports.
func (n *Node) info() map[string]any {
	st := n.netStats()
	return map[string]any{
		"version": ClientVersion, "protocolversion": ProtocolVersion, "walletversion": WalletVersion,
		"blocks": n.Chain.Height(), "timeoffset": st.timeOffset, "connections": st.connections,
		"addrman_total": st.addrs, "addrman_get": 0, "dht_nodes": st.dhtNodes, "dht_global_nodes": st.dhtNodes + 1,
		"proxy": "", "ext_port1": n.cfg.Port, "ext_port2": n.cfg.DHTPort(), "difficulty": n.difficulty(),
		"testnet": false, "public_server_mode": false, "errors": "",
		"ext_addr_net1": "", "ext_addr_net2": n.cfg.BindAddr(),
		"dht_torrents": st.torrents, "num_peers": st.swarmPeers, "peerlist_size": st.swarmPeers,
		"num_active_requests": 0, "download_rate": 0, "upload_rate": 0, "dht_download_rate": 0,
		"dht_upload_rate": 0, "ip_overhead_download_rate": 0, "ip_overhead_upload_rate": 0,
		"payload_download_rate": 0, "payload_upload_rate": 0, "total_download": st.bytesIn,
		"total_upload": st.bytesOut, "total_dht_download": 0, "total_dht_upload": 0,
		"total_ip_overhead_download": 0, "total_ip_overhead_upload": 0,
		"total_payload_download": st.bytesIn, "total_payload_upload": st.bytesOut,
	}
}

type netStats struct {
	connections, addrs, dhtNodes, torrents, swarmPeers int
	bytesIn, bytesOut, timeOffset                      int64
}

// seedAddrs gives the P2P addresses of a DNS seed (adddnsseed): an IP
// address as it is (with or without a port), a name looked up in DNS
// except on regtest, where DNS seeds are never used (as -dnsseed).
func (n *Node) seedAddrs(ctx context.Context, seed string) ([]netip.AddrPort, error) {
	port := n.params.DefaultPort
	if ap, err := netip.ParseAddrPort(seed); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	if a, err := netip.ParseAddr(seed); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a, port)}, nil
	}
	if n.cfg.Regtest {
		return nil, fmt.Errorf("%q is not an IP address, and DNS seeds are not used on regtest", seed)
	}
	if !validHostname(seed) {
		return nil, fmt.Errorf("%q is not a host name", seed)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", seed)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %s: %w", seed, err)
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		if len(out) == 16 {
			break
		}
		out = append(out, netip.AddrPortFrom(ip.Unmap(), port))
	}
	return out, nil
}

// validHostname accepts DNS names: dot-separated labels of letters, digits
// and hyphens, 1 to 63 characters each, 253 in all.
func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// verifyChain re-reads the newest depth blocks of the best chain (all of
// them for depth <= 0) from the store and checks each again: it decodes,
// has its hash and height, links to its parent, and passes the block
// rules that need no context (proof of work, merkle root, transactions).
// The check levels of twisterd's VerifyDB are all covered by this one
// pass.
func (n *Node) verifyChain(ctx context.Context, depth int64) bool {
	tip := n.Chain.Tip()
	lowest := int64(0)
	if depth > 0 {
		lowest = max(0, tip.Height-depth+1)
	}
	next := consensus.Hash{}
	for h := tip.Height; h >= lowest; h-- {
		if ctx.Err() != nil {
			return false
		}
		b, err := n.Chain.BlockByHeight(h)
		if err != nil {
			n.log.Warn("verifychain: block unreadable", "height", h, "err", err)
			return false
		}
		if h == tip.Height && b.Hash() != tip.Hash || h < tip.Height && b.Hash() != next {
			n.log.Warn("verifychain: block does not link", "height", h, "hash", b.Hash())
			return false
		}
		if h > 0 {
			if err := consensus.CheckBlockSanity(n.params, b, time.Now().Unix()); err != nil {
				n.log.Warn("verifychain: block fails its rules", "height", h, "err", err)
				return false
			}
		}
		next = b.Header.PrevBlock
	}
	return true
}
