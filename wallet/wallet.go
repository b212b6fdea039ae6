// Package wallet keeps a node's local users: their secret keys (the keys
// twisterd's createwalletuser makes and dumpprivkey prints), keys waiting to
// replace a registered one, and group-chat keys. It is stored as one JSON
// file written atomically (temporary file, fsync, rename), so a crash leaves
// either the old or the new wallet, never a torn one. When the operator sets
// a passphrase (encryptwallet) every secret is sealed with
// XChaCha20-Poly1305 under a key derived from the passphrase with scrypt, and
// is only usable after walletpassphrase unlocks it for a while.
package wallet

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/gotwister/twister/keys"
)

// Errors returned by the wallet.
var (
	ErrExists         = errors.New("wallet: this username exists in wallet")
	ErrNotFound       = errors.New("wallet: username not found")
	ErrLocked         = errors.New("wallet: please enter the wallet passphrase with walletpassphrase first")
	ErrNotEncrypted   = errors.New("wallet: running with an unencrypted wallet")
	ErrAlreadyEncrypt = errors.New("wallet: already encrypted")
	ErrPassphrase     = errors.New("wallet: the wallet passphrase entered was incorrect")
)

// scrypt parameters for the passphrase key (about 100 ms natively).
const (
	scryptN = 1 << 15
	scryptR = 8
	scryptP = 1
)

// Entry is one local user or group.
type Entry struct {
	Name string `json:"name"`
	// Secret is the WIF secret, empty when the wallet is encrypted.
	Secret string `json:"secret,omitempty"`
	// Sealed is the encrypted WIF secret (hex nonce‖ciphertext).
	Sealed string `json:"sealed,omitempty"`
	// Replacement holds a new key waiting to replace the registered one
	// (createwalletuser with replacekey), in the same two forms.
	Replacement       string `json:"replacement,omitempty"`
	SealedReplacement string `json:"sealed_replacement,omitempty"`
	// Group fields, for group-chat keys (aliases start with '*').
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"`
	Ignored     bool     `json:"ignored,omitempty"`
	Created     int64    `json:"created"`
}

type file struct {
	Version int      `json:"version"`
	Salt    string   `json:"salt,omitempty"`
	Check   string   `json:"check,omitempty"` // sealed known text, to test a passphrase
	Entries []*Entry `json:"entries"`
}

// Wallet is a node's key store. It is safe for concurrent use.
type Wallet struct {
	mu       sync.Mutex
	path     string
	f        file
	key      []byte // derived passphrase key while unlocked
	lockedAt time.Time
	now      func() time.Time
	// parsed caches the keys parsed from secrets (parsing derives the
	// public key, a scalar multiplication, and every post is signed with
	// a key from here); emptied whenever the wallet locks.
	parsed map[string]*keys.PrivateKey
}

// Open loads the wallet at path, creating an empty one if it does not exist.
func Open(path string) (*Wallet, error) {
	w := &Wallet{path: path, now: time.Now, f: file{Version: 1}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return w, w.save()
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	if err := json.Unmarshal(b, &w.f); err != nil {
		return nil, fmt.Errorf("wallet: %s is corrupt: %w", path, err)
	}
	return w, nil
}

func (w *Wallet) save() error { return w.writeTo(w.path) }

// Backup writes a copy of the wallet file (encrypted secrets stay
// encrypted) to dest, a file or an existing directory (backupwallet).
func (w *Wallet) Backup(dest string) error {
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		dest = filepath.Join(dest, filepath.Base(w.path))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeTo(dest)
}

// Created returns when the key of name was made or imported (Unix time).
func (w *Wallet) Created(name string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.find(name); e != nil {
		return e.Created, true
	}
	return 0, false
}

// writeTo writes the wallet to path atomically (a synced temporary file
// renamed over it); callers hold mu.
func (w *Wallet) writeTo(path string) error {
	b, err := json.MarshalIndent(&w.f, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("wallet: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wallet: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (w *Wallet) find(name string) *Entry {
	for _, e := range w.f.Entries {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Encrypted tells whether a passphrase protects the wallet.
func (w *Wallet) Encrypted() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Salt != ""
}

// unlocked reports whether secrets can be used now; callers hold mu.
func (w *Wallet) unlocked() bool {
	if w.f.Salt == "" {
		return true
	}
	if w.key != nil && w.now().After(w.lockedAt) {
		w.forgetSecrets()
	}
	return w.key != nil
}

// Unlocked tells whether secrets are usable (always true unencrypted).
func (w *Wallet) Unlocked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unlocked()
}

func (w *Wallet) seal(secret string) (string, error) {
	aead, err := chacha20poly1305.NewX(w.key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return hex.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), nil)), nil
}

func (w *Wallet) open(sealed string) (string, error) {
	b, err := hex.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("wallet: corrupt sealed secret: %w", err)
	}
	aead, err := chacha20poly1305.NewX(w.key)
	if err != nil {
		return "", err
	}
	if len(b) < aead.NonceSize() {
		return "", errors.New("wallet: corrupt sealed secret")
	}
	pt, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		return "", ErrPassphrase
	}
	return string(pt), nil
}

// put stores a secret in the entry's plain or sealed field.
func (w *Wallet) put(plain, sealed *string, secret string) error {
	if w.f.Salt == "" {
		*plain, *sealed = secret, ""
		return nil
	}
	if !w.unlocked() {
		return ErrLocked
	}
	s, err := w.seal(secret)
	if err != nil {
		return err
	}
	*plain, *sealed = "", s
	return nil
}

// forgetSecrets drops the passphrase key and every parsed key; callers
// hold mu.
func (w *Wallet) forgetSecrets() {
	w.key = nil
	clear(w.parsed)
}

// parse returns the key of a secret, parsed once; callers hold mu.
func (w *Wallet) parse(secret string) (*keys.PrivateKey, error) {
	if k := w.parsed[secret]; k != nil {
		return k, nil
	}
	k, err := keys.ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	if w.parsed == nil {
		w.parsed = map[string]*keys.PrivateKey{}
	}
	w.parsed[secret] = k
	return k, nil
}

func (w *Wallet) get(plain, sealed string) (string, error) {
	if sealed == "" {
		return plain, nil
	}
	if !w.unlocked() {
		return "", ErrLocked
	}
	return w.open(sealed)
}

// Create makes a new key for name and returns it. With replace, the user
// must exist and the key is kept as the replacement (createwalletuser
// <name> true).
func (w *Wallet) Create(name string, replace bool) (*keys.PrivateKey, error) {
	k, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(name)
	if replace {
		if e == nil {
			return nil, ErrNotFound
		}
		if err := w.put(&e.Replacement, &e.SealedReplacement, k.Secret()); err != nil {
			return nil, err
		}
		return k, w.save()
	}
	if e != nil {
		return nil, ErrExists
	}
	e = &Entry{Name: name, Created: w.now().Unix()}
	if err := w.put(&e.Secret, &e.Sealed, k.Secret()); err != nil {
		return nil, err
	}
	w.f.Entries = append(w.f.Entries, e)
	return k, w.save()
}

// Import adds an existing key for name (importprivkey). An existing entry
// with another key is replaced.
func (w *Wallet) Import(name string, k *keys.PrivateKey) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(name)
	if e == nil {
		e = &Entry{Name: name, Created: w.now().Unix()}
		w.f.Entries = append(w.f.Entries, e)
	}
	if err := w.put(&e.Secret, &e.Sealed, k.Secret()); err != nil {
		return err
	}
	return w.save()
}

// Key returns the key of a local user or group.
func (w *Wallet) Key(name string) (*keys.PrivateKey, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(name)
	if e == nil {
		return nil, ErrNotFound
	}
	s, err := w.get(e.Secret, e.Sealed)
	if err != nil {
		return nil, err
	}
	return w.parse(s)
}

// Replacement returns the pending replacement key of name, if any.
func (w *Wallet) Replacement(name string) (*keys.PrivateKey, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(name)
	if e == nil || (e.Replacement == "" && e.SealedReplacement == "") {
		return nil, ErrNotFound
	}
	s, err := w.get(e.Replacement, e.SealedReplacement)
	if err != nil {
		return nil, err
	}
	return keys.ParseSecret(s)
}

// PromoteReplacement makes the pending replacement key the user's key, once
// the replacement transaction is in the chain.
func (w *Wallet) PromoteReplacement(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(name)
	if e == nil || (e.Replacement == "" && e.SealedReplacement == "") {
		return ErrNotFound
	}
	e.Secret, e.Sealed = e.Replacement, e.SealedReplacement
	e.Replacement, e.SealedReplacement = "", ""
	return w.save()
}

// Has tells whether name is in the wallet.
func (w *Wallet) Has(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.find(name) != nil
}

// Users lists local users (not groups), newest first as twisterd does.
func (w *Wallet) Users() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for i := len(w.f.Entries) - 1; i >= 0; i-- {
		if n := w.f.Entries[i].Name; len(n) == 0 || n[0] != '*' {
			out = append(out, n)
		}
	}
	return out
}

// Groups lists group aliases, sorted.
func (w *Wallet) Groups() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.f.Entries {
		if len(e.Name) > 0 && e.Name[0] == '*' {
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Group returns a copy of a group entry.
func (w *Wallet) Group(alias string) (Entry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(alias)
	if e == nil || alias == "" || alias[0] != '*' {
		return Entry{}, false
	}
	c := *e
	c.Secret, c.Sealed = "", ""
	c.Members = append([]string(nil), e.Members...)
	return c, true
}

// SetGroup creates or updates a group with its key, description and members.
func (w *Wallet) SetGroup(alias string, k *keys.PrivateKey, desc string, members []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(alias)
	if e == nil {
		if k == nil {
			return ErrNotFound
		}
		e = &Entry{Name: alias, Created: w.now().Unix()}
		w.f.Entries = append(w.f.Entries, e)
	}
	if k != nil {
		if err := w.put(&e.Secret, &e.Sealed, k.Secret()); err != nil {
			return err
		}
	}
	e.Description = desc
	e.Members = append([]string(nil), members...)
	return w.save()
}

// SetGroupIgnored marks a group as left (leavegroup) or not.
func (w *Wallet) SetGroupIgnored(alias string, ignored bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.find(alias)
	if e == nil {
		return ErrNotFound
	}
	e.Ignored = ignored
	return w.save()
}

func deriveKey(pass string, salt []byte) ([]byte, error) {
	return scrypt.Key([]byte(pass), salt, scryptN, scryptR, scryptP, chacha20poly1305.KeySize)
}

const checkText = "twister wallet passphrase check"

// Encrypt protects every secret with a passphrase (encryptwallet). The
// wallet is locked afterwards.
func (w *Wallet) Encrypt(pass string) error {
	if pass == "" {
		return errors.New("wallet: empty passphrase")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f.Salt != "" {
		return ErrAlreadyEncrypt
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	key, err := deriveKey(pass, salt)
	if err != nil {
		return err
	}
	old := w.f
	w.key = key
	w.f.Salt = hex.EncodeToString(salt)
	w.lockedAt = w.now().Add(time.Minute)
	check, err := w.seal(checkText)
	if err != nil {
		w.f, w.key = old, nil
		return err
	}
	w.f.Check = check
	for _, e := range w.f.Entries {
		if e.Secret != "" {
			if e.Sealed, err = w.seal(e.Secret); err != nil {
				return err
			}
			e.Secret = ""
		}
		if e.Replacement != "" {
			if e.SealedReplacement, err = w.seal(e.Replacement); err != nil {
				return err
			}
			e.Replacement = ""
		}
	}
	w.forgetSecrets()
	return w.save()
}

// Unlock makes secrets usable for timeout (walletpassphrase).
func (w *Wallet) Unlock(pass string, timeout time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f.Salt == "" {
		return ErrNotEncrypted
	}
	salt, err := hex.DecodeString(w.f.Salt)
	if err != nil {
		return fmt.Errorf("wallet: corrupt salt: %w", err)
	}
	key, err := deriveKey(pass, salt)
	if err != nil {
		return err
	}
	prev := w.key
	w.key = key
	w.lockedAt = w.now().Add(time.Hour) // for the check below
	if got, err := w.open(w.f.Check); err != nil || got != checkText {
		w.key = prev
		return ErrPassphrase
	}
	w.lockedAt = w.now().Add(timeout)
	return nil
}

// Lock forgets the passphrase key (walletlock).
func (w *Wallet) Lock() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f.Salt == "" {
		return ErrNotEncrypted
	}
	w.forgetSecrets()
	return nil
}

// ChangePassphrase re-seals every secret under a new passphrase.
func (w *Wallet) ChangePassphrase(oldPass, newPass string) error {
	if err := w.Unlock(oldPass, time.Minute); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	type pair struct{ plain, repl string }
	plain := map[*Entry]pair{}
	for _, e := range w.f.Entries {
		var p pair
		var err error
		if e.Sealed != "" {
			if p.plain, err = w.open(e.Sealed); err != nil {
				return err
			}
		}
		if e.SealedReplacement != "" {
			if p.repl, err = w.open(e.SealedReplacement); err != nil {
				return err
			}
		}
		plain[e] = p
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	key, err := deriveKey(newPass, salt)
	if err != nil {
		return err
	}
	w.key = key
	w.f.Salt = hex.EncodeToString(salt)
	if w.f.Check, err = w.seal(checkText); err != nil {
		return err
	}
	for e, p := range plain {
		if p.plain != "" {
			if e.Sealed, err = w.seal(p.plain); err != nil {
				return err
			}
		}
		if p.repl != "" {
			if e.SealedReplacement, err = w.seal(p.repl); err != nil {
				return err
			}
		}
	}
	w.forgetSecrets()
	return w.save()
}
