package keystore_test

import (
	"context"
	"fmt"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/keystore"
)

// A user brings the key twisterd's dumpprivkey printed, protects it with a
// passphrase, and later unlocks it to sign without the key leaving the
// Session.
func Example() {
	ctx := context.Background()
	store, err := keystore.Open(ctx, keystore.NewMemBackend()) // IDBBackend in a browser
	if err != nil {
		panic(err)
	}
	const secret = "L4uxgQMmgWU6vZsVBunvF1Nu9A9HRKeLHq3NQagVr3hYhjwBgR7z"
	if err := store.Import(ctx, "gotest", secret, "correct horse battery staple"); err != nil {
		panic(err)
	}
	if _, err := store.Unlock(ctx, "gotest", "wrong"); err != nil {
		fmt.Println(err)
	}
	session, err := store.Unlock(ctx, "gotest", "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	msg := []byte("hello twister")
	fmt.Println(keys.Verify(msg, session.Sign(msg), session.PubKey()) == nil)
	store.Lock("gotest")
	fmt.Println(session.Locked())
	// Output:
	// keystore: wrong passphrase for account "gotest"; the key stays locked
	// true
	// true
}
