//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/keystore"
	"github.com/gotwister/twister/webnode"
)

// The key store: users' keys encrypted under their passphrases in
// IndexedDB (database "twister-keys" unless start's "keystore" option
// names another; in memory with "memory": true). It is opened by
// "start", before the node starts, so that the account methods work even
// while the node is still syncing or if it failed to start. Keys are only
// ever decrypted here, in the worker: unlock hands the node a
// keystore.Session that signs in place, and only exportKey returns a key.
var (
	ksMu sync.Mutex
	ks   *keystore.Store

	regMu       sync.Mutex
	registering = map[string]context.CancelFunc{}
)

// defaultKeystore is the key store's IndexedDB database name.
const defaultKeystore = "twister-keys"

// openKeystore opens the key store named by start's parameters (once).
func openKeystore(raw json.RawMessage) error {
	p, err := params[struct {
		Keystore string `json:"keystore"`
		Memory   bool   `json:"memory"`
	}](raw)
	if err != nil {
		return err
	}
	ksMu.Lock()
	defer ksMu.Unlock()
	if ks != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b keystore.Backend
	if p.Memory {
		b = keystore.NewMemBackend()
	} else {
		name := p.Keystore
		if name == "" {
			name = defaultKeystore
		}
		idb, err := keystore.OpenIDB(ctx, name)
		if err != nil {
			return err
		}
		b = idb
	}
	s, err := keystore.Open(ctx, b)
	if err != nil {
		return err
	}
	ks = s
	return nil
}

func keyStore() (*keystore.Store, error) {
	ksMu.Lock()
	defer ksMu.Unlock()
	if ks == nil {
		return nil, errors.New("twister: call start first (it opens the key store)")
	}
	return ks, nil
}

// startedNode returns the running node; it waits while start is running.
func startedNode() (*webnode.Node, error) {
	mu.Lock()
	defer mu.Unlock()
	if node == nil {
		return nil, errors.New("twister: the node is not running (call start first)")
	}
	return node, nil
}

type accountParams struct {
	User       string `json:"user"`
	Passphrase string `json:"passphrase"`
	Secret     string `json:"secret"`
	Old        string `json:"oldPassphrase"`
	New        string `json:"newPassphrase"`
	Bits       uint32 `json:"bits"`   // register: a harder PoW target (tests, demos)
	PollMs     int64  `json:"pollMs"` // register: confirmation poll interval
	Hashes     uint64 `json:"hashes"` // benchmarkPoW
}

// accountMethod runs the account, registration and key-store methods; ok
// is false for every other method. For "start" it opens the key store and
// lets start go on (ok false).
func accountMethod(method string, raw json.RawMessage) (res any, ok bool, err error) {
	switch method {
	case "start":
		if err := openKeystore(raw); err != nil {
			return nil, true, err
		}
		return nil, false, nil
	case "accounts", "createAccount", "importKey", "exportKey", "unlock", "lock", "changePassphrase",
		"deleteAccount", "register", "cancelRegister", "benchmarkPoW":
	default:
		return nil, false, nil
	}
	p, err := params[accountParams](raw)
	if err != nil {
		return nil, true, err
	}
	if method == "benchmarkPoW" {
		return benchmarkPoW(p.Hashes), true, nil
	}
	if method == "cancelRegister" {
		regMu.Lock()
		cancel := registering[p.User]
		regMu.Unlock()
		if cancel != nil {
			cancel()
		}
		return cancel != nil, true, nil
	}
	s, err := keyStore()
	if err != nil {
		return nil, true, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch method {
	case "accounts":
		all, err := s.Accounts(ctx)
		if err != nil {
			return nil, true, err
		}
		return webnode.AccountViews(all), true, nil
	case "createAccount":
		// A name the chain shows taken could never be registered: refuse
		// it now if the node can tell (a verified proof); offline, go on.
		if mu.TryLock() {
			n := node
			mu.Unlock()
			if n != nil {
				if err := n.CheckNameFree(ctx, p.User); errors.Is(err, webnode.ErrNameTaken) || errors.Is(err, consensus.ReasonBadUsername) {
					return nil, true, err
				}
			}
		}
		k, err := s.Create(ctx, p.User, p.Passphrase)
		if err != nil {
			return nil, true, err
		}
		return map[string]any{"user": p.User, "secret": k.Secret(), "pubKey": k.PubKey().Hex()}, true, nil
	case "importKey":
		if err := s.Import(ctx, p.User, p.Secret, p.Passphrase); err != nil {
			return nil, true, err
		}
		info, err := s.Account(ctx, p.User)
		if err != nil {
			return nil, true, err
		}
		return map[string]any{"user": p.User, "pubKey": info.PubKey}, true, nil
	case "exportKey":
		secret, err := s.Export(ctx, p.User, p.Passphrase)
		return secret, true, err
	case "changePassphrase":
		return nil, true, s.ChangePassphrase(ctx, p.User, p.Old, p.New)
	case "deleteAccount":
		if mu.TryLock() {
			if node != nil && node.User() == p.User {
				node.Logout()
			}
			mu.Unlock()
		}
		return nil, true, s.Delete(ctx, p.User)
	case "lock":
		if n, err := startedNode(); err == nil {
			n.Logout()
		}
		s.LockAll()
		return nil, true, nil
	case "unlock":
		n, err := startedNode()
		if err != nil {
			return nil, true, err
		}
		start := time.Now()
		if err := n.Unlock(ctx, s, p.User, p.Passphrase); err != nil {
			return nil, true, err
		}
		out := map[string]any{"user": p.User, "ms": time.Since(start).Milliseconds()}
		if ss, ok := s.Session(p.User); ok {
			out["pubKey"] = ss.PubKey().Hex()
		}
		return out, true, nil
	case "register":
		n, err := startedNode()
		if err != nil {
			return nil, true, err
		}
		return register(n, s, p)
	}
	return nil, false, nil
}

// register runs a registration until it is confirmed, fails or is
// cancelled by cancelRegister; one at a time per user.
func register(n *webnode.Node, s *keystore.Store, p accountParams) (any, bool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regMu.Lock()
	if registering[p.User] != nil {
		regMu.Unlock()
		return nil, true, fmt.Errorf("twister: %q is already being registered", p.User)
	}
	registering[p.User] = cancel
	regMu.Unlock()
	defer func() {
		regMu.Lock()
		delete(registering, p.User)
		regMu.Unlock()
	}()
	o := webnode.RegisterOptions{Bits: p.Bits}
	if p.PollMs > 0 {
		o.PollInterval = time.Duration(p.PollMs) * time.Millisecond
	}
	reg, err := n.RegisterAccount(ctx, s, p.User, o)
	if errors.Is(err, context.Canceled) {
		return nil, true, fmt.Errorf("twister: the registration of %q was cancelled", p.User)
	}
	return reg, true, err
}

// benchmarkPoW grinds a registration against a target no hash meets for
// about `hashes` tries (default 2^21) and reports the rate: the figure
// behind the expected registration time (2^24 tries on mainnet).
func benchmarkPoW(hashes uint64) map[string]any {
	if hashes == 0 {
		hashes = 1 << 21
	}
	tx, _ := consensus.NewRegistration("benchuser", keys.PubKey(make([]byte, 33)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var tried uint64
	start := time.Now()
	consensus.GrindRegistration(ctx, tx, 0x01010000, func(n uint64) {
		time.Sleep(time.Millisecond) // let the worker's event loop run (see webnode.Register)
		tried = n
		if n >= hashes {
			cancel()
		}
	})
	el := time.Since(start)
	rate := float64(tried) / el.Seconds()
	return map[string]any{"hashes": tried, "ms": el.Milliseconds(), "rate": rate,
		"mainnetMedianSeconds": 0.6931471805599453 * float64(1<<24) / rate}
}
