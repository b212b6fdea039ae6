package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/rpc"
	"github.com/gotwister/twister/text"
	"github.com/gotwister/twister/wallet"
)

// rpcWalletError is twisterd's RPC_WALLET_ERROR.
const rpcWalletError = -4

// dumpTime formats a time as twisterd's wallet dump does.
const dumpTime = "2006-01-02T15:04:05Z"

// registerWalletFileMethods adds backupwallet, dumpwallet and importwallet
// (twisterd's wallet dump format: one "<secret> <time> username=<name>
// # addr=<address>" line per key, names %-escaped).
func (n *Node) registerWalletFileMethods() {
	n.method("backupwallet", "backupwallet <destination>", "Safely copies wallet.dat to destination, which can be a directory or a path with filename.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			dest, err := absPathParam(p, 0)
			if err != nil {
				return nil, err
			}
			if n.Wallet.Backup(dest) != nil {
				return nil, rpc.Errorf(rpcWalletError, "Error: Wallet backup failed!")
			}
			return nil, nil
		})
	n.method("dumpwallet", "dumpwallet <filename>", "Dumps all wallet keys in a human-readable format.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			path, err := absPathParam(p, 0)
			if err != nil {
				return nil, err
			}
			if !n.Wallet.Unlocked() {
				return nil, walletErr(wallet.ErrLocked)
			}
			names := append(n.Wallet.Users(), n.Wallet.Groups()...)
			sort.Slice(names, func(i, j int) bool {
				ti, _ := n.Wallet.Created(names[i])
				tj, _ := n.Wallet.Created(names[j])
				return ti < tj || ti == tj && names[i] < names[j]
			})
			var b strings.Builder
			tip := n.Chain.Tip()
			fmt.Fprintf(&b, "# Wallet dump created by gotwister\n# * Created on %s\n", time.Now().UTC().Format(dumpTime))
			fmt.Fprintf(&b, "# * Best block at time of backup was %d (%s),\n#   mined on %s\n\n", tip.Height, tip.Hash, time.Unix(int64(tip.Header.Time), 0).UTC().Format(dumpTime))
			for _, name := range names {
				k, err := n.Wallet.Key(name)
				if err != nil {
					return nil, walletErr(err)
				}
				created, _ := n.Wallet.Created(name)
				id := k.PubKey().ID()
				addr := keys.EncodeBase58Check(append([]byte{0}, id[:]...))
				fmt.Fprintf(&b, "%s %s username=%s # addr=%s\n", k.Secret(), time.Unix(created, 0).UTC().Format(dumpTime), encodeDumpString(name), addr)
			}
			b.WriteString("\n# End of dump\n")
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Cannot open wallet dump file")
			}
			return nil, nil
		})
	n.method("importwallet", "importwallet <filename>", "Imports keys from a wallet dump file (see dumpwallet).", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			path, err := absPathParam(p, 0)
			if err != nil {
				return nil, err
			}
			if !n.Wallet.Unlocked() {
				return nil, walletErr(wallet.ErrLocked)
			}
			f, err := os.Open(path)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Cannot open wallet dump file")
			}
			defer f.Close()
			good, added := true, 0
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 0, 4096), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if line == "" || line[0] == '#' {
					continue
				}
				fields := strings.Split(line, " ")
				if len(fields) < 2 {
					continue
				}
				k, err := keys.ParseSecret(fields[0])
				if err != nil {
					continue
				}
				name, named := "", false
				for _, f := range fields[2:] {
					if strings.HasPrefix(f, "#") {
						break
					}
					if v, ok := strings.CutPrefix(f, "username="); ok {
						name, named = decodeDumpString(v), true
					}
				}
				if !named || (text.ValidUsername(name) != nil && !isGroupAlias(name)) {
					good = false
					continue
				}
				if have, err := n.Wallet.Key(name); err == nil && have.PubKey().Equal(k.PubKey()) {
					continue // already present
				}
				if isGroupAlias(name) {
					err = n.Wallet.SetGroup(name, k, "", nil)
				} else {
					err = n.Wallet.Import(name, k)
				}
				if err != nil {
					good = false
					continue
				}
				added++
			}
			if added > 0 {
				n.walletChanged()
			}
			if !good || sc.Err() != nil {
				return nil, rpc.Errorf(rpcWalletError, "Error adding some keys to wallet")
			}
			return nil, nil
		})
}

// absPathParam reads parameter i as a file path, which must be absolute:
// the daemon's working directory means nothing to whoever calls it (twisterd
// takes a relative path relative to it).
func absPathParam(p rpc.Params, i int) (string, error) {
	path, err := p.String(i)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(path) {
		return "", rpc.Errorf(rpc.CodeInvalidParam, "%q is not an absolute path", path)
	}
	return path, nil
}

func isGroupAlias(name string) bool { return strings.HasPrefix(name, "*") && len(name) > 1 }

// encodeDumpString %-escapes bytes at or below space, at or above 128,
// and '%', as twisterd's dump does.
func encodeDumpString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 32 || c >= 128 || c == '%' {
			fmt.Fprintf(&b, "%%%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeDumpString undoes encodeDumpString; malformed escapes stay as
// they are.
func decodeDumpString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if c, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// registerWalletTxMethods adds Bitcoin's wallet-transaction listings as
// twisterd has them: its wallet holds keys, never a transaction (IsMine
// and IsFromMe are always false), so the lists are empty and no txid is a
// wallet transaction; parameters are checked as twisterd checks them.
func (n *Node) registerWalletTxMethods() {
	n.method("listtransactions", "listtransactions [account] [count=10] [from=0]", "Returns up to [count] most recent transactions skipping the first [from] transactions for account [account].", 0, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.StringOr(0, "*"); err != nil {
				return nil, err
			}
			count, err := p.IntOr(1, 10)
			if err != nil {
				return nil, err
			}
			from, err := p.IntOr(2, 0)
			if err != nil {
				return nil, err
			}
			if count < 0 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Negative count")
			}
			if from < 0 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Negative from")
			}
			return []any{}, nil
		})
	n.method("listsinceblock", "listsinceblock [blockhash] [target-confirmations]", "Get all transactions in blocks since block [blockhash], or all transactions if omitted", 0, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.StringOr(0, ""); err != nil {
				return nil, err
			}
			target, err := p.IntOr(1, 1)
			if err != nil {
				return nil, err
			}
			if target < 1 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Invalid parameter")
			}
			tip := n.Chain.Tip()
			last := tip.Hash.String()
			if target > 1 {
				last = strings.Repeat("0", 64)
				if h := tip.Height + 1 - target; h >= 0 {
					if hdr, err := n.Chain.HeaderByHeight(h); err == nil {
						last = hdr.Hash().String()
					}
				}
			}
			return map[string]any{"transactions": []any{}, "lastblock": last}, nil
		})
	n.method("gettransaction", "gettransaction <txid>", "Get detailed information about in-wallet transaction <txid>", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.String(0); err != nil {
				return nil, err
			}
			return nil, rpc.Errorf(rpc.CodeInvalidKey, "Invalid or non-wallet transaction id")
		})
}
