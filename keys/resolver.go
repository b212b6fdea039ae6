package keys

import (
	"errors"
	"fmt"
)

// ErrUnknownUser is returned by a Resolver for a name the chain does not hold
// (at the asked height).
var ErrUnknownUser = errors.New("keys: user is not registered")

// Resolver gives the public key registered for a user, as the block chain
// knows it. height is the block height at which the key must be valid (posts
// are checked with the key valid at their own height, so old posts keep
// verifying after a key replacement); a negative height means the current
// tip, which is what DHT items are checked against.
type Resolver interface {
	KeyAt(user string, height int64) (PubKey, error)
}

// VerifyUser checks that sig over m was made by the key user had at height.
func VerifyUser(r Resolver, user string, height int64, m, sig []byte) error {
	pub, err := r.KeyAt(user, height)
	if err != nil {
		return fmt.Errorf("key of %q: %w", user, err)
	}
	if err := Verify(m, sig, pub); err != nil {
		return fmt.Errorf("signature of %q: %w", user, err)
	}
	return nil
}

// KeyHistory is the list of keys a user has had, each valid from a block
// height on. It is what a Resolver keeps per user.
type KeyHistory []KeyEntry

// KeyEntry is one registered key and the height of the block that holds its
// registration (or replacement) transaction.
type KeyEntry struct {
	Height int64
	Key    PubKey
}

// At returns the key valid at height: the newest entry registered at or
// below it. A negative height returns the newest key. Entries are kept in
// ascending height order.
func (h KeyHistory) At(height int64) (PubKey, bool) {
	var best PubKey
	found := false
	for _, e := range h {
		if height < 0 || e.Height <= height {
			best, found = e.Key, true
		}
	}
	return best, found
}

// StaticResolver is a Resolver over a fixed map of key histories, for tools,
// tests and a browser node that learnt keys through light-client proofs.
type StaticResolver map[string]KeyHistory

// KeyAt implements Resolver.
func (s StaticResolver) KeyAt(user string, height int64) (PubKey, error) {
	h, ok := s[user]
	if !ok {
		return nil, ErrUnknownUser
	}
	k, ok := h.At(height)
	if !ok {
		return nil, fmt.Errorf("%w at height %d", ErrUnknownUser, height)
	}
	return k, nil
}
