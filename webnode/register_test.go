//go:build !js

package webnode

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/keystore"
	"github.com/gotwister/twister/post"
)

// testKDF keeps the tests' scrypt cheap (the default costs ~0.2 s).
var testKDF = keystore.KDFParams{LogN: 10, R: 8, P: 1}

func newKeystore(t *testing.T) *keystore.Store {
	t.Helper()
	b, err := keystore.NewDirBackend(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.OpenWith(context.Background(), b, keystore.Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// regEvents records a registration's reports.
type regEvents struct {
	mu       sync.Mutex
	progress []RegisterProgress
	status   []string
}

func (r *regEvents) opts(o RegisterOptions) RegisterOptions {
	o.OnProgress = func(p RegisterProgress) { r.mu.Lock(); r.progress = append(r.progress, p); r.mu.Unlock() }
	o.OnStatus = func(s RegisterStatus) { r.mu.Lock(); r.status = append(r.status, s.Status); r.mu.Unlock() }
	return o
}

func (r *regEvents) statuses() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.status, ",")
}

// harderBits is a registration target of about 2^20 tries (regtest's own
// passes half of all hashes), so that the progress reports have something
// to report.
const harderBits = 0x1e0fffff

// The whole path of a new user on a real regtest network: an account is
// created in a key store, registered from the node (name check, proof of
// work, sendTx through the bridge, mined by the network's miner,
// confirmed from verified headers and proofs), unlocked (= logged in) and
// used to post; a native node verifies the post against the full chain.
func TestAccountRegistrationFlow(t *testing.T) {
	tn := newTestnet(t, "alice", "webby")
	miner := tn.AutoMine(100*time.Millisecond, 1)
	alice := tn.NewNative(2, 1, true)
	ks := newKeystore(t)
	n, ev := tn.newWebnode(nil, nil)
	ctx := ctxT(t, 60*time.Second)

	k, err := ks.Create(ctx, "newbie", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	// Not registered yet: unlocking (logging in) fails and locks again.
	if err := n.Unlock(ctx, ks, "newbie", "correct horse"); !errors.Is(err, keys.ErrUnknownUser) {
		t.Fatalf("unlock before registering: %v", err)
	}
	if _, ok := ks.Session("newbie"); ok {
		t.Fatal("a failed unlock left the session open")
	}

	// Taken and invalid names are refused before any work is spent.
	var refused regEvents
	if _, err := n.Register(ctx, "alice", k.PubKey(), refused.opts(RegisterOptions{})); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("registering a taken name: %v", err)
	}
	if err := n.CheckNameFree(ctx, "Bad-Name"); !errors.Is(err, consensus.ReasonBadUsername) {
		t.Fatalf("invalid name: %v", err)
	}
	if _, err := n.Register(ctx, "newbie", k.PubKey(), refused.opts(RegisterOptions{Bits: 0x2100ffff})); err == nil || !strings.Contains(err.Error(), "at least as hard") {
		t.Fatalf("an easier target than the network's: %v", err)
	}
	if st := refused.statuses(); st != "" || len(refused.progress) != 0 {
		t.Fatalf("work was spent on refused registrations: %q", st)
	}
	if err := n.CheckNameFree(ctx, "newbie"); err != nil {
		t.Fatal(err)
	}

	var re regEvents
	start := time.Now()
	reg, err := n.RegisterAccount(ctx, ks, "newbie", re.opts(RegisterOptions{Bits: harderBits, PollInterval: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registered in %v: %d tries in %d ms, block %d, tip %d, %d blocks mined", time.Since(start).Round(time.Millisecond),
		reg.Tried, reg.GrindMs, reg.Height, reg.Tip, miner.Mined())
	if st := re.statuses(); st != "grinding,sent,confirmed" {
		t.Fatalf("status reports %q", st)
	}
	re.mu.Lock()
	last := re.progress[len(re.progress)-1]
	for i, p := range re.progress {
		if p.User != "newbie" || p.Expected < 1<<19 || (i > 0 && p.Tried <= re.progress[i-1].Tried) {
			t.Errorf("progress report %d: %+v", i, p)
		}
	}
	re.mu.Unlock()
	if !last.Done || last.Tried != reg.Tried {
		t.Fatalf("last progress %+v, registration %+v", last, reg)
	}
	if ev.count(EventRegisterStatus) != 3 || ev.count(EventRegisterProgress) == 0 {
		t.Fatalf("node events: %d status, %d progress", ev.count(EventRegisterStatus), ev.count(EventRegisterProgress))
	}
	// The full chain agrees, with one block on top.
	if got, err := tn.Chain.KeyAt("newbie", -1); err != nil || !got.Equal(k.PubKey()) {
		t.Fatalf("full chain: %v %v", got, err)
	}
	if h := tn.Chain.Height(); h < reg.Height+1 || reg.Tip < reg.Height+1 {
		t.Fatalf("confirmed at tip %d (chain %d), registration at %d", reg.Tip, h, reg.Height)
	}
	if err := n.CheckNameFree(ctx, "newbie"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("registered name still free: %v", err)
	}

	// Wrong passphrase: refused, nothing unlocked.
	if err := n.Unlock(ctx, ks, "newbie", "wrong horse"); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if n.User() != "" {
		t.Fatal("logged in with a wrong passphrase")
	}
	if err := n.Unlock(ctx, ks, "newbie", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if n.User() != "newbie" {
		t.Fatalf("user %q", n.User())
	}
	if err := alice.Follow("newbie"); err != nil {
		t.Fatal(err)
	}
	res, err := n.Post(ctx, "my first post, signed by a key store session")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the post at the native node", func() bool { return alice.Has("newbie", res.Post.K) })
	got, _ := alice.Post("newbie", res.Post.K)
	if p, err := post.Validate(got, "newbie", res.Post.K, tn.Chain); err != nil || p.Text() != "my first post, signed by a key store session" {
		t.Fatalf("native node holds %v, %v", p, err)
	}

	// Another device: the exported key, imported under another
	// passphrase, logs in there too.
	secret, err := ks.Export(ctx, "newbie", "correct horse")
	if err != nil || secret != k.Secret() {
		t.Fatalf("export: %v", err)
	}
	ks2 := newKeystore(t)
	if err := ks2.Import(ctx, "newbie", secret, "other device"); err != nil {
		t.Fatal(err)
	}
	n2, _ := tn.newWebnode(nil, nil)
	if err := n2.Unlock(ctx, ks2, "newbie", "other device"); err != nil {
		t.Fatal(err)
	}
	// A key that is not the registered one is refused at unlock.
	if err := ks2.Import(ctx, "alice", k.Secret(), "pass"); err != nil {
		t.Fatal(err)
	}
	if err := n2.Unlock(ctx, ks2, "alice", "pass"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("unlocking with another user's key: %v", err)
	}
	if n2.User() != "newbie" {
		t.Fatalf("a failed unlock changed the user to %q", n2.User())
	}
	if _, ok := ks2.Session("newbie"); !ok {
		t.Fatal("a failed unlock of another account locked the current one")
	}
	// Switching users wipes the previous user's key.
	if err := ks2.Import(ctx, "webby", userKey("webby").Secret(), "webby's"); err != nil {
		t.Fatal(err)
	}
	s1, _ := ks2.Session("newbie")
	if err := n2.Unlock(ctx, ks2, "webby", "webby's"); err != nil {
		t.Fatal(err)
	}
	if _, ok := ks2.Session("newbie"); ok || !s1.Locked() || n2.User() != "webby" {
		t.Fatal("the previous user's session is still unlocked")
	}
	views := AccountViews(must(ks2.Accounts(ctx)))
	if len(views) != 3 || views[1].User != "newbie" || views[1].PubKey != k.PubKey().Hex() || views[1].KDF.LogN != testKDF.LogN || views[1].Created == 0 {
		t.Fatalf("account views %+v", views)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Cancelling a registration stops the proof of work; nothing is sent.
func TestRegisterCancel(t *testing.T) {
	tn := newTestnet(t)
	n, _ := tn.newWebnode(nil, nil)
	ctx, cancel := context.WithCancel(ctxT(t, 30*time.Second))
	k, _ := keys.GenerateKey()
	errc := make(chan error, 1)
	go func() {
		// About 2^32 tries: it would run for many minutes.
		_, err := n.Register(ctx, "slowpoke", k.PubKey(), RegisterOptions{Bits: 0x1d00ffff, ProgressInterval: time.Millisecond,
			OnProgress: func(p RegisterProgress) {
				if p.Tried >= 1<<17 {
					cancel()
				}
			}})
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled registration: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the registration did not stop")
	}
	if tn.Chain.MempoolSize() != 0 {
		t.Fatal("a cancelled registration was sent")
	}
}

// regLiar relays to a real bridge but lies about registrations.
type regLiar struct {
	Bridge
	sender TxSender

	mu     sync.Mutex
	mode   string
	lies   int // how many "not found" answers are still to give (mode "free")
	sentTx *consensus.Tx
}

func (l *regLiar) ProveUser(ctx context.Context, name string) ([]byte, error) {
	l.mu.Lock()
	mode, tx := l.mode, l.sentTx
	lie := mode == "free" && l.lies > 0
	if lie {
		l.lies--
	}
	l.mu.Unlock()
	switch {
	case lie:
		return nil, &client.ServerError{Op: wire.OpProveUser, Code: wire.CodeNotFound, Msg: "user is not registered"}
	case mode == "fake-tip" && tx != nil:
		// A block holding the registration on top of the real tip, and a
		// proof linking it: all correct but the missing work.
		fb := l.fakeBlocks(ctx, tx)
		if fb == nil {
			return nil, errors.New("no fake blocks")
		}
		ids := []consensus.Hash{fb[0].coinbase.Hash(), tx.Hash()}
		p := &light.UserProof{Name: name, Entries: []light.ProofEntry{{Height: int64(fb[0].h.Height), BlockHash: fb[0].h.Hash(),
			TxIndex: 1, Tx: tx, Branch: consensus.MerkleBranch(ids, 1)}}}
		return p.Bytes(), nil
	}
	return l.Bridge.ProveUser(ctx, name)
}

type fakeBlock struct {
	h        consensus.Header
	coinbase *consensus.Tx
}

// fakeBlocks builds two blocks on the real tip, the first holding tx,
// neither with a valid proof of work.
func (l *regLiar) fakeBlocks(ctx context.Context, tx *consensus.Tx) []fakeBlock {
	_, tip, err := l.Bridge.Headers(ctx, 0, 1)
	if err != nil {
		return nil
	}
	raw, _, err := l.Bridge.Headers(ctx, tip, 1)
	if err != nil || len(raw) != 1 {
		return nil
	}
	prev, err := consensus.DecodeHeader(raw[0])
	if err != nil {
		return nil
	}
	var out []fakeBlock
	for i := range 2 {
		cb, err := consensus.NewCoinbase("", "", nil, [4]byte{byte(i)}, 1)
		if err != nil {
			return nil
		}
		ids := []consensus.Hash{cb.Hash()}
		if i == 0 {
			ids = append(ids, tx.Hash())
		}
		h := consensus.Header{Version: 2, Height: prev.Height + 1, PrevBlock: prev.Hash(), MerkleRoot: consensus.MerkleRoot(ids),
			Time: prev.Time + 1, Bits: prev.Bits}
		for consensus.CheckProofOfWork(h.PoWHash(), h.Bits, consensus.Regtest.PowLimit) == nil {
			h.Nonce++
		}
		out = append(out, fakeBlock{h, cb})
		prev = h
	}
	return out
}

func (l *regLiar) Headers(ctx context.Context, from int64, count int) ([][]byte, int64, error) {
	l.mu.Lock()
	mode, tx := l.mode, l.sentTx
	l.mu.Unlock()
	hs, tip, err := l.Bridge.Headers(ctx, from, count)
	if mode != "fake-tip" || tx == nil {
		return hs, tip, err
	}
	fb := l.fakeBlocks(ctx, tx)
	for _, b := range fb {
		hs = append(hs, b.h.AppendTo(nil))
	}
	return hs, tip + int64(len(fb)), nil
}

// SendTx records the transaction and, as a bridge hiding the truth
// would, drops it.
func (l *regLiar) SendTx(ctx context.Context, raw []byte) error {
	tx, err := consensus.DecodeTx(raw)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.sentTx = tx
	l.mu.Unlock()
	return nil
}

// A lying bridge cannot make a registration look confirmed: a name it
// claimed was free is caught at confirmation (the verified proof shows
// someone else's key), a tip made of headers without work is refused, and
// a registration it drops is given up on.
func TestRegisterLyingBridge(t *testing.T) {
	tn := newTestnet(t, "alice")
	ctx := ctxT(t, 60*time.Second)
	k, _ := keys.GenerateKey()

	// "alice is free": the lie passes the check, work is spent, the
	// confirmation check finds alice's key in the verified proof.
	l := &regLiar{Bridge: mustPool(t, tn.URL), mode: "free", lies: 1}
	n, _ := tn.newWebnode(l, nil)
	var re regEvents
	_, err := n.Register(ctx, "alice", k.PubKey(), re.opts(RegisterOptions{PollInterval: 100 * time.Millisecond}))
	if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), "not ours") {
		t.Fatalf("name claimed free: %v", err)
	}
	if st := re.statuses(); st != "grinding,sent" {
		t.Fatalf("statuses %q", st)
	}
	t.Logf("claimed free: %v", err)

	// A tip of two blocks without work, one holding our registration,
	// with a proof linking it: refused, nothing confirmed, tip unchanged.
	l2 := &regLiar{Bridge: mustPool(t, tn.URL), mode: "fake-tip"}
	n2, _ := tn.newWebnode(l2, nil)
	before := n2.Height()
	var re2 regEvents
	_, err = n2.Register(ctx, "sybil", k.PubKey(), re2.opts(RegisterOptions{PollInterval: 100 * time.Millisecond}))
	if !errors.Is(err, ErrUnverified) || !errors.Is(err, consensus.ReasonBadBlockPoW) {
		t.Fatalf("fake tip: %v", err)
	}
	if st := re2.statuses(); st != "grinding,sent" {
		t.Fatalf("statuses %q", st)
	}
	if n2.Height() != before {
		t.Fatalf("the fake headers moved the tip from %d to %d", before, n2.Height())
	}
	if _, err := n2.chain.KeyAt("sybil", -1); err == nil {
		t.Fatal("the fake registration was believed")
	}
	t.Logf("fake tip: %v", err)

	// A registration the bridge drops is given up on after MaxWaitBlocks
	// verified blocks.
	l3 := &regLiar{Bridge: mustPool(t, tn.URL), mode: "drop"}
	n3, _ := tn.newWebnode(l3, nil)
	done := make(chan error, 1)
	go func() {
		_, err := n3.Register(ctx, "ghost", k.PubKey(), RegisterOptions{PollInterval: 50 * time.Millisecond, MaxWaitBlocks: 2})
		done <- err
	}()
	waitFor(t, 10*time.Second, "the ghost registration sent", func() bool { l3.mu.Lock(); defer l3.mu.Unlock(); return l3.sentTx != nil })
	tn.Mine(3)
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotConfirmed) {
			t.Fatalf("dropped registration: %v", err)
		}
		t.Logf("dropped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("waited forever for a dropped registration")
	}
}
