package node

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/rpc"
	"github.com/gotwister/twister/text"
	"github.com/gotwister/twister/wallet"
)

// walletErr maps wallet errors to twisterd's codes and messages.
func walletErr(err error) error {
	switch {
	case errors.Is(err, wallet.ErrLocked):
		return rpc.Errorf(rpc.CodeWalletUnlock, "Error: Please enter the wallet passphrase with walletpassphrase first.")
	case errors.Is(err, wallet.ErrPassphrase):
		return rpc.Errorf(rpc.CodeWalletPass, "Error: The wallet passphrase entered was incorrect.")
	case errors.Is(err, wallet.ErrNotEncrypted):
		return rpc.Errorf(rpc.CodeWalletWrongEnc, "Error: running with an unencrypted wallet, but walletpassphrase was called.")
	case errors.Is(err, wallet.ErrAlreadyEncrypt):
		return rpc.Errorf(rpc.CodeWalletWrongEnc, "Error: running with an encrypted wallet, but encryptwallet was called.")
	}
	return rpc.Errorf(rpc.CodeWalletError, "Error: %v", err)
}

func (n *Node) registerWalletMethods() {
	n.method("createwalletuser", "createwalletuser <username> [replacekey]", "Create a new key pair for user and add it to wallet\nUse sendnewusertransaction to publish it to the network.\nReturns key secret (keep it safe)", 1, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			replace, err := p.BoolOr(1, false)
			if err != nil {
				return nil, err
			}
			// twisterd accepts any string here and fails much later; we
			// refuse a name the chain would never register.
			if err := text.ValidUsername(name); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Error: invalid username: %v", err)
			}
			if !replace && n.Wallet.Has(name) {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: this username exists in wallet")
			}
			if !replace && n.Chain.UserExists(name) {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: this username exists in tx database")
			}
			if replace && !n.Wallet.Has(name) {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: replacekey given but old key not in wallet")
			}
			k, err := n.Wallet.Create(name, replace)
			if err != nil {
				return nil, walletErr(err)
			}
			return k.Secret(), nil
		})
	n.method("sendnewusertransaction", "sendnewusertransaction <username>", "Send a transaction registering a previously created new user\nusing createwalletuser or imported with importprivkey", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			if !n.Wallet.Has(name) {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: username must exist in wallet")
			}
			tx, err := n.buildRegistration(ctx, name)
			if err != nil {
				return nil, err
			}
			if err := n.submitTx(tx); err != nil {
				return nil, err
			}
			return tx.Hash().String(), nil
		})
	n.method("listwalletusers", "listwalletusers", "get the list of usernames in the wallet", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			out := n.Wallet.Users()
			if out == nil {
				out = []string{}
			}
			return out, nil
		})
	n.method("dumppubkey", "dumppubkey <username>", "Returns the public key corresponding to <username>.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			k, err := n.Chain.KeyAt(name, -1)
			if err != nil {
				return "", nil
			}
			return k.Hex(), nil
		})
	n.method("dumpprivkey", "dumpprivkey <username>", "Reveals the private key corresponding to <username>.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			k, err := n.walletKeyParam(p, 0, rpc.Errorf(rpc.CodeInvalidKey, "Username not found"))
			if err != nil {
				return nil, err
			}
			return k.Secret(), nil
		})
	n.method("importprivkey", "importprivkey <bitcoinprivkey> <username> [rescan=true] [allow_new_user=false]", "Adds a private key (as returned by dumpprivkey) to your wallet.", 2, 4,
		func(ctx context.Context, p rpc.Params) (any, error) {
			secret, err := p.String(0)
			if err != nil {
				return nil, err
			}
			name, err := p.String(1)
			if err != nil {
				return nil, err
			}
			if _, err := p.BoolOr(2, true); err != nil {
				return nil, err
			}
			allowNew, err := p.BoolOr(3, false)
			if err != nil {
				return nil, err
			}
			k, err := keys.ParseSecret(secret)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "Invalid private key")
			}
			if err := text.ValidUsername(name); err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "Error: invalid username: %v", err)
			}
			registered, err := n.Chain.KeyAt(name, -1)
			switch {
			case err != nil && !allowNew:
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "User must exist (or allow_new_user flag must be set)")
			case err == nil && !registered.Equal(k.PubKey()):
				return nil, rpc.Errorf(rpc.CodeInvalidKey, "Private key mismatch to existing public key (wrong username?)")
			}
			if err := n.Wallet.Import(name, k); err != nil {
				return nil, walletErr(err)
			}
			n.walletChanged()
			return nil, nil
		})
	n.method("signmessage", "signmessage <username> <message>", "Sign a message with the private key of an username", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if _, err := p.String(0); err != nil {
				return nil, err
			}
			msg, err := p.String(1)
			if err != nil {
				return nil, err
			}
			k, err := n.walletKeyParam(p, 0, errNoSuchWalletUser)
			if err != nil {
				return nil, err
			}
			return base64.StdEncoding.EncodeToString(k.Sign([]byte(msg))), nil
		})
	n.method("createrawtransaction", "createrawtransaction <username> <pubKey> [signedByOldKey]", "Create a transaction registering a new user\nReturns hex-encoded raw transaction.\nit is not stored in the wallet or transmitted to the network.", 2, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "username must be string")
			}
			pub, err := hexParam(p, 1, "pubkey")
			if err != nil {
				return nil, err
			}
			if _, err := keys.ParsePubKey(pub); err != nil {
				return nil, rpc.Errorf(rpc.CodeInternal, "pubkey is not valid")
			}
			tx, err := consensus.NewRegistration(name, pub)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
			}
			if p.Len() > 2 {
				sig, err := hexParam(p, 2, "signedByOldKey")
				if err != nil {
					return nil, err
				}
				tx.PubKey = consensus.AppendPush(tx.PubKey, sig)
			}
			if err := n.grindRegistration(ctx, name, tx); err != nil {
				return nil, err
			}
			return hex.EncodeToString(tx.Bytes()), nil
		})
	n.method("testvector", "testvector <username>", "Returns encryption testvectors using <username> private key", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			k, err := n.walletKeyParam(p, 0, errNoSuchWalletUser)
			if err != nil {
				return nil, err
			}
			return testVector(k)
		})
	n.method("verifymessage", "verifymessage <username> <signature> <message>", "Verify a signed message", 3, 3,
		func(ctx context.Context, p rpc.Params) (any, error) {
			name, err := p.String(0)
			if err != nil {
				return nil, err
			}
			sig64, err := p.String(1)
			if err != nil {
				return nil, err
			}
			msg, err := p.String(2)
			if err != nil {
				return nil, err
			}
			pub, err := n.Chain.KeyAt(name, -1)
			if err != nil {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: this username does not exist in tx database")
			}
			sig, err := base64.StdEncoding.DecodeString(sig64)
			if err != nil {
				return false, nil
			}
			return keys.Verify([]byte(msg), sig, pub) == nil, nil
		})
	n.method("encryptwallet", "encryptwallet <passphrase>", "Encrypts the wallet with <passphrase>.", 1, 1,
		func(ctx context.Context, p rpc.Params) (any, error) {
			pass, err := p.String(0)
			if err != nil {
				return nil, err
			}
			if pass == "" {
				return nil, rpc.Errorf(rpc.CodeMisc, "encryptwallet <passphrase>\nEncrypts the wallet with <passphrase>.")
			}
			if err := n.Wallet.Encrypt(pass); err != nil {
				return nil, walletErr(err)
			}
			return "wallet encrypted; the keys are now locked until walletpassphrase unlocks them", nil
		})
	n.method("walletpassphrase", "walletpassphrase <passphrase> <timeout>", "Stores the wallet decryption key in memory for <timeout> seconds.", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			pass, err := p.String(0)
			if err != nil {
				return nil, err
			}
			secs, err := p.Int(1)
			if err != nil {
				return nil, err
			}
			if secs <= 0 {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "timeout must be positive")
			}
			if err := n.Wallet.Unlock(pass, time.Duration(secs)*time.Second); err != nil {
				return nil, walletErr(err)
			}
			n.walletChanged()
			return nil, nil
		})
	n.method("walletlock", "walletlock", "Removes the wallet encryption key from memory, locking the wallet.", 0, 0,
		func(ctx context.Context, p rpc.Params) (any, error) {
			if err := n.Wallet.Lock(); err != nil {
				return nil, walletErr(err)
			}
			return nil, nil
		})
	n.method("walletpassphrasechange", "walletpassphrasechange <oldpassphrase> <newpassphrase>", "Changes the wallet passphrase from <oldpassphrase> to <newpassphrase>.", 2, 2,
		func(ctx context.Context, p rpc.Params) (any, error) {
			oldPass, err := p.String(0)
			if err != nil {
				return nil, err
			}
			newPass, err := p.String(1)
			if err != nil {
				return nil, err
			}
			if newPass == "" {
				return nil, rpc.Errorf(rpc.CodeInvalidParam, "the new passphrase is empty")
			}
			if err := n.Wallet.ChangePassphrase(oldPass, newPass); err != nil {
				return nil, walletErr(err)
			}
			return nil, nil
		})
}

// walletChanged is called when keys become available (import, unlock), so
// DMs can be decrypted again.
func (n *Node) walletChanged() {
	for _, f := range n.onWalletChange {
		f()
	}
}

// buildRegistration makes the registration (or key replacement) of a wallet
// user and grinds its proof of work, logging progress.
func (n *Node) buildRegistration(ctx context.Context, name string) (*consensus.Tx, error) {
	key, err := n.Wallet.Key(name)
	if err != nil {
		return nil, walletErr(err)
	}
	var tx *consensus.Tx
	if registered, err := n.Chain.KeyAt(name, -1); err == nil {
		newKey, rerr := n.Wallet.Replacement(name)
		if rerr != nil {
			if registered.Equal(key.PubKey()) {
				return nil, rpc.Errorf(rpc.CodeWalletError, "Error: this username exists in tx database")
			}
			return nil, rpc.Errorf(rpc.CodeWalletError, "Error: this username exists in tx database with another key")
		}
		if tx, err = consensus.NewKeyReplacement(name, newKey.PubKey(), key); err != nil {
			return nil, rpc.Errorf(rpc.CodeInternal, "%v", err)
		}
	} else if tx, err = consensus.NewRegistration(name, key.PubKey()); err != nil {
		return nil, rpc.Errorf(rpc.CodeInvalidParam, "%v", err)
	}
	if err := n.grindRegistration(ctx, name, tx); err != nil {
		return nil, err
	}
	return tx, nil
}

// grindRegistration finds tx's proof of work (DoTxProofOfWork), with
// progress in the log.
func (n *Node) grindRegistration(ctx context.Context, name string, tx *consensus.Tx) error {
	start := time.Now()
	last := time.Now()
	nonce, err := consensus.GrindRegistration(ctx, tx, n.params.TxBits, func(tried uint64) {
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			n.log.Info("registration proof of work", "user", name, "hashes", tried,
				"rate", fmt.Sprintf("%.0f/s", float64(tried)/time.Since(start).Seconds()))
		}
	})
	if err != nil {
		return rpc.Errorf(rpc.CodeMisc, "registration proof of work interrupted: %v", err)
	}
	tx.Nonce = nonce
	n.log.Info("registration proof of work done", "user", name, "nonce", nonce, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// testVectorText is the plaintext twisterd's testvector signs and
// encrypts.
const testVectorText = "The quick brown fox jumps over the lazy dog"

// testVector answers testvector as twisterd does: the key, hashMagic (the
// SHA256d of the serialized magic string alone) and hash (the message's
// magic hash), both in display (reversed) order, a compact signature over
// the magic hash, and the plaintext sealed to the user's key (§1.3, §2.8).
func testVector(k *keys.PrivateKey) (any, error) {
	var magic []byte
	magic = keys.AppendVarInt(magic, uint64(len(keys.MessageMagic)))
	magic = append(magic, keys.MessageMagic...)
	hm := keys.SHA256d(magic)
	h := keys.MagicHash([]byte(testVectorText))
	sealed, err := dm.Encrypt(k.PubKey(), []byte(testVectorText))
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInternal, "%v", err)
	}
	return map[string]any{
		"secret":    k.Secret(),
		"pubkey":    k.PubKey().Hex(),
		"hashMagic": hex.EncodeToString(reversed(hm[:])),
		"plaintext": testVectorText,
		"hash":      hex.EncodeToString(reversed(h[:])),
		"sign":      hex.EncodeToString(k.Sign([]byte(testVectorText))),
		"sec": map[string]any{
			"key":  hex.EncodeToString(sealed.Key),
			"mac":  hex.EncodeToString(sealed.Mac),
			"orig": sealed.Orig,
			"body": hex.EncodeToString(sealed.Body),
		},
	}, nil
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	return out
}

// errNoSuchWalletUser is twisterd's answer for a name not in the wallet
// (signmessage, testvector).
var errNoSuchWalletUser = rpc.Errorf(rpc.CodeWalletError, "Error: no such user in wallet")

// walletKeyParam reads parameter i as a local user's name and returns its
// key; notFound is the error for a name the wallet lacks.
func (n *Node) walletKeyParam(p rpc.Params, i int, notFound error) (*keys.PrivateKey, error) {
	name, err := p.String(i)
	if err != nil {
		return nil, err
	}
	k, err := n.Wallet.Key(name)
	if errors.Is(err, wallet.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, walletErr(err)
	}
	return k, nil
}

// hexParam reads parameter i as hex, with twisterd's ParseHexV errors.
func hexParam(p rpc.Params, i int, name string) ([]byte, error) {
	s, err := p.String(i)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInvalidParam, "%s must be hexadecimal string (not '%s')", name, s)
	}
	return b, nil
}
