package keystore

import (
	"sync"

	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
)

// Signer is what a node needs from a logged-in user's key: a Session is
// one, and so is any holder of a key that signs in place.
type Signer interface {
	User() string
	PubKey() keys.PubKey
	Sign(msg []byte) []byte
	Decrypt(s dm.Sealed) ([]byte, error)
}

var _ Signer = (*Session)(nil)

// Session is an unlocked account: it signs twister messages and opens
// direct messages with the account's key while keeping the key itself
// inside the process (in the browser: inside the Web Worker that runs the
// node). Lock wipes the key; a locked Session refuses to sign. It is safe
// for concurrent use.
type Session struct {
	user string
	pub  keys.PubKey

	mu  sync.RWMutex
	key *keys.PrivateKey // nil once locked
}

func newSession(user string, k *keys.PrivateKey) *Session {
	return &Session{user: user, pub: k.PubKey(), key: k}
}

// User returns the account's username.
func (s *Session) User() string { return s.user }

// PubKey returns the account's public key (still known after Lock).
func (s *Session) PubKey() keys.PubKey { return append(keys.PubKey(nil), s.pub...) }

// Locked reports whether the session has been locked.
func (s *Session) Locked() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.key == nil
}

// TrySign returns the 65-byte compact signature of msg (over
// keys.MagicHash(msg)), or ErrLocked.
func (s *Session) TrySign(msg []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.key == nil {
		return nil, ErrLocked
	}
	return s.key.Sign(msg), nil
}

// Sign is TrySign for the Signer interface: it returns nil once the
// session is locked (a nil signature never verifies).
func (s *Session) Sign(msg []byte) []byte {
	sig, _ := s.TrySign(msg)
	return sig
}

// SignHash signs a 32-byte digest directly, or returns ErrLocked.
func (s *Session) SignHash(hash []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.key == nil {
		return nil, ErrLocked
	}
	return s.key.SignHash(hash), nil
}

// Decrypt opens a direct message sealed to the account's key, or returns
// ErrLocked.
func (s *Session) Decrypt(sl dm.Sealed) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.key == nil {
		return nil, ErrLocked
	}
	return dm.Decrypt(s.key, sl)
}

// Key returns a copy of the raw key, for code that needs a
// *keys.PrivateKey (ECDH, a native node's wallet). The copy stays inside
// the worker like the Session, but Lock does not wipe it: prefer the
// Session's methods, and use Store.Export, which asks for the passphrase,
// to show the key to the user.
func (s *Session) Key() (*keys.PrivateKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.key == nil {
		return nil, ErrLocked
	}
	b := s.key.Bytes()
	defer wipe(b)
	return keys.PrivateKeyFromBytes(b, s.key.Compressed())
}

// lock wipes the key's scalar and marks the session locked.
func (s *Session) lock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		s.key.Curve().Zero()
		s.key = nil
	}
}
