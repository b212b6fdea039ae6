package webnode

import (
	"context"
	"fmt"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/keystore"
)

// AccountView is an account of a key store as the page sees it (JSON),
// without its key: accounts() in the JavaScript API.
type AccountView struct {
	User    string              `json:"user"`
	PubKey  string              `json:"pubKey,omitempty"`  // lowercase hex
	Created int64               `json:"created,omitempty"` // Unix seconds
	KDF     *keystore.KDFParams `json:"kdf,omitempty"`     // {logn, r, p} of the record
	// Error says why the record cannot be read (a damaged record); the
	// account is listed so that the user can delete it.
	Error string `json:"error,omitempty"`
}

// AccountViews turns keystore.Store.Accounts into views.
func AccountViews(infos []keystore.AccountInfo) []AccountView {
	out := make([]AccountView, 0, len(infos))
	for _, a := range infos {
		v := AccountView{User: a.User}
		if a.Err != nil {
			v.Error = a.Err.Error()
		} else {
			kdf := a.KDF
			v.PubKey, v.Created, v.KDF = a.PubKey, a.Created.Unix(), &kdf
		}
		out = append(out, v)
	}
	return out
}

// Unlock opens user's account in ks with passphrase and logs in with the
// resulting keystore.Session, so the node signs with a key that never
// leaves the key store's session. If the login fails (the name is not
// registered yet, or to another key), the session is locked again and the
// error returned: unlocking is logging in. On success the session of the
// user logged in before, if another, is locked (its key wiped).
func (n *Node) Unlock(ctx context.Context, ks *keystore.Store, user, passphrase string) error {
	prev := n.User()
	s, err := ks.Unlock(ctx, user, passphrase)
	if err != nil {
		return err
	}
	if err := n.Login(ctx, s); err != nil {
		if prev != user {
			ks.Lock(user)
		}
		return err
	}
	if prev != "" && prev != user {
		ks.Lock(prev)
	}
	return nil
}

// RegisterAccount registers the account user of ks (Register with the
// account's public key, which needs no passphrase).
func (n *Node) RegisterAccount(ctx context.Context, ks *keystore.Store, user string, o RegisterOptions) (*Registration, error) {
	info, err := ks.Account(ctx, user)
	if err != nil {
		return nil, err
	}
	pub, err := keys.ParsePubKeyHex(info.PubKey)
	if err != nil {
		return nil, fmt.Errorf("webnode: account %q: %w", user, err)
	}
	return n.Register(ctx, user, pub, o)
}
