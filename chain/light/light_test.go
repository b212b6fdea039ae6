package light

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// miniChain mines regtest blocks with package consensus alone (no store),
// so these tests also run under GOOS=js.
type miniChain struct {
	t      *testing.T
	blocks []*consensus.Block // blocks[i] at height i
}

func newMini(t *testing.T) *miniChain {
	return &miniChain{t: t, blocks: []*consensus.Block{consensus.Regtest.GenesisBlock}}
}

// fork returns a miniChain sharing blocks up to height h.
func (m *miniChain) fork(h int) *miniChain {
	return &miniChain{t: m.t, blocks: append([]*consensus.Block(nil), m.blocks[:h+1]...)}
}

func (m *miniChain) add(salt byte, txs ...*consensus.Tx) *consensus.Block {
	m.t.Helper()
	parent := m.blocks[len(m.blocks)-1]
	cb, err := consensus.NewCoinbase("", "", nil, [4]byte{salt}, 1)
	if err != nil {
		m.t.Fatal(err)
	}
	b := &consensus.Block{Txs: append([]*consensus.Tx{cb}, txs...)}
	b.Header = consensus.Header{Version: 2, Height: int32(len(m.blocks)), PrevBlock: parent.Hash(),
		Time: parent.Header.Time + 600, Bits: 0x207fffff}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	if err := consensus.SolveBlock(context.Background(), b, consensus.Regtest.PowLimit); err != nil {
		m.t.Fatal(err)
	}
	m.blocks = append(m.blocks, b)
	return b
}

func (m *miniChain) headers(from int) []consensus.Header {
	var hs []consensus.Header
	for _, b := range m.blocks[from:] {
		hs = append(hs, b.Header)
	}
	return hs
}

// prove builds the proof of name from the blocks, as a full node would.
func (m *miniChain) prove(name string) *UserProof {
	p := &UserProof{Name: name}
	for h, b := range m.blocks {
		if h == 0 {
			continue
		}
		for i, tx := range b.Txs {
			if i > 0 && tx.Username() == name {
				p.Entries = append(p.Entries, ProofEntry{Height: int64(h), BlockHash: b.Hash(), TxIndex: i, Tx: tx,
					Branch: consensus.MerkleBranch(b.TxHashes(), i)})
			}
		}
	}
	return p
}

func reg(t *testing.T, name string, k *keys.PrivateKey) *consensus.Tx {
	tx, err := consensus.NewRegistration(name, k.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, consensus.Regtest.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

func repl(t *testing.T, name string, nk, old *keys.PrivateKey) *consensus.Tx {
	tx, err := consensus.NewKeyReplacement(name, nk.PubKey(), old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, consensus.Regtest.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

func key(t *testing.T) *keys.PrivateKey {
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock far enough after the mini chain's times.
func clock() time.Time { return time.Unix(int64(consensus.Regtest.GenesisBlock.Header.Time)+1e6, 0) }

func TestHeadersAndProofs(t *testing.T) {
	m := newMini(t)
	alice, alice2, bob := key(t), key(t), key(t)
	m.add(1, reg(t, "alice", alice), reg(t, "bob", bob), reg(t, "carl", key(t)))
	m.add(2)
	m.add(3, repl(t, "alice", alice2, alice))
	m.add(4)

	hc := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := hc.AddHeaders(m.headers(1)); err != nil {
		t.Fatal(err)
	}
	if h, ht := hc.Tip(); h != m.blocks[4].Hash() || ht != 4 {
		t.Fatalf("tip %s %d", h, ht)
	}
	if err := hc.AddHeaders(m.headers(1)); err != nil {
		t.Fatal("known headers must be skipped:", err)
	}
	hist, err := hc.VerifyUserProof(m.prove("bob"))
	if err != nil || len(hist) != 1 || !hist[0].Key.Equal(bob.PubKey()) {
		t.Fatalf("bob: %v", err)
	}
	ap := m.prove("alice")
	hist, err = hc.VerifyUserProof(ap)
	if err != nil || len(hist) != 2 || !hist[1].Key.Equal(alice2.PubKey()) || hist[1].Height != 3 {
		t.Fatalf("alice: %v %+v", err, hist)
	}
	// Encoding round trip.
	dec, err := DecodeUserProof(ap.Bytes())
	if err != nil || !bytes.Equal(dec.Bytes(), ap.Bytes()) {
		t.Fatalf("decode: %v", err)
	}
	// The documented limitation: a proof without the replacement verifies
	// and yields the older key.
	short := &UserProof{Name: "alice", Entries: ap.Entries[:1]}
	if hist, err := hc.VerifyUserProof(short); err != nil || !hist[0].Key.Equal(alice.PubKey()) {
		t.Fatal("truncated proof")
	}
	// Unknown name: nothing to prove.
	if _, err := hc.VerifyUserProof(m.prove("zoe")); !errors.Is(err, ErrBadProof) {
		t.Fatal("empty proof accepted")
	}
	// Wrong name, tampered tx, tampered header hash.
	wrong := m.prove("bob")
	wrong.Name = "alice"
	if _, err := hc.VerifyUserProof(wrong); !errors.Is(err, ErrBadProof) {
		t.Fatal("wrong name accepted")
	}
	tam := m.prove("carl")
	tam.Entries[0].Tx = reg(t, "carl", key(t))
	if _, err := hc.VerifyUserProof(tam); !errors.Is(err, ErrBadProof) {
		t.Fatal("tampered tx accepted")
	}
	// A replacement signed by someone else, hidden in a valid-looking block.
	m2 := m.fork(4)
	m2.add(5, repl(t, "bob", key(t), key(t)))
	if err := hc.AddHeaders(m2.headers(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.VerifyUserProof(m2.prove("bob")); !errors.Is(err, consensus.ReasonBadReplacement) {
		t.Fatalf("unsigned replacement: %v", err)
	}
}

func TestHeaderRules(t *testing.T) {
	m := newMini(t)
	m.add(1)
	m.add(2)
	base := m.blocks[2]
	hc := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := hc.AddHeaders(m.headers(1)); err != nil {
		t.Fatal(err)
	}
	next := func(mut func(h *consensus.Header), solve bool) consensus.Header {
		b := &consensus.Block{Txs: base.Txs}
		b.Header = consensus.Header{Version: 2, Height: 3, PrevBlock: base.Hash(), MerkleRoot: base.Header.MerkleRoot, Time: base.Header.Time + 1, Bits: 0x207fffff}
		mut(&b.Header)
		if solve {
			if err := consensus.SolveBlock(context.Background(), b, consensus.Regtest.PowLimit); err != nil {
				t.Fatal(err)
			}
		}
		return b.Header
	}
	noPoW := next(func(*consensus.Header) {}, false)
	for n := uint32(0); ; n++ {
		noPoW.Nonce = n
		if consensus.CheckProofOfWork(noPoW.PoWHash(), noPoW.Bits, consensus.Regtest.PowLimit) != nil {
			break
		}
	}
	cases := []struct {
		name   string
		h      consensus.Header
		reason consensus.Reason
	}{
		{"without the work", noPoW, consensus.ReasonBadBlockPoW},
		{"wrong bits", next(func(h *consensus.Header) { h.Bits = 0x2000ffff }, true), consensus.ReasonBadBits},
		{"wrong height", next(func(h *consensus.Header) { h.Height = 7 }, true), consensus.ReasonBadHeight},
		{"version 1", next(func(h *consensus.Header) { h.Version = 1 }, true), consensus.ReasonBadVersion},
		{"time too old", next(func(h *consensus.Header) { h.Time = m.blocks[1].Header.Time }, true), consensus.ReasonTimeTooOld},
		{"time too new", next(func(h *consensus.Header) { h.Time = uint32(clock().Unix() + 7201) }, true), consensus.ReasonTimeTooNew},
		{"unknown parent", next(func(h *consensus.Header) { h.PrevBlock[0] ^= 1 }, true), consensus.ReasonMissingAncestor},
	}
	for _, c := range cases {
		if err := hc.AddHeaders([]consensus.Header{c.h}); !errors.Is(err, c.reason) {
			t.Errorf("%s: %v, want %s", c.name, err, c.reason)
		}
	}
	if _, ht := hc.Tip(); ht != 2 {
		t.Fatal("a bad header moved the tip")
	}
	// A whole fake chain without work is refused at its first header.
	fake := newMini(t)
	fake.add(9)
	hs := fake.headers(1)
	for n := uint32(0); ; n++ {
		hs[0].Nonce = n
		if consensus.CheckProofOfWork(hs[0].PoWHash(), hs[0].Bits, consensus.Regtest.PowLimit) != nil {
			break
		}
	}
	fresh := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := fresh.AddHeaders(hs); !errors.Is(err, consensus.ReasonBadBlockPoW) {
		t.Fatalf("fake chain: %v", err)
	}
}

func TestForkAndStaleProof(t *testing.T) {
	m := newMini(t)
	m.add(1)
	k := key(t)
	side := m.fork(1)
	m.add(2, reg(t, "sam", k))
	hc := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := hc.AddHeaders(m.headers(1)); err != nil {
		t.Fatal(err)
	}
	proof := m.prove("sam")
	if _, err := hc.VerifyUserProof(proof); err != nil {
		t.Fatal(err)
	}
	// A heavier branch without sam takes over: the proof is now stale.
	side.add(7)
	side.add(8)
	if err := hc.AddHeaders(side.headers(2)); err != nil {
		t.Fatal(err)
	}
	if h, _ := hc.Tip(); h != side.blocks[3].Hash() {
		t.Fatal("heavier branch not chosen")
	}
	if _, err := hc.VerifyUserProof(proof); !errors.Is(err, ErrBadProof) {
		t.Fatal("proof into a stale branch accepted")
	}
	loc := hc.Locator()
	if loc[0] != side.blocks[3].Hash() || loc[len(loc)-1] != consensus.Regtest.GenesisHash {
		t.Fatal("locator")
	}
}

func TestCheckpointStart(t *testing.T) {
	m := newMini(t)
	for i := range 4 {
		m.add(byte(i))
	}
	cp := consensus.LightCheckpoint{Height: 2, Header: m.blocks[2].Header}
	hc := NewHeaderChainFrom(consensus.Regtest, cp, WithClock(clock))
	if err := hc.AddHeaders(m.headers(3)); err != nil {
		t.Fatal(err)
	}
	if _, ht := hc.Tip(); ht != 4 {
		t.Fatal("tip")
	}
	if _, _, ok := hc.HeaderAt(1); ok {
		t.Fatal("below the checkpoint")
	}
	if root, h := hc.Root(); root != m.blocks[2].Hash() || h != 2 {
		t.Fatal("root")
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("TWUP"), []byte("TWUP\x01a\x01"), []byte("TWUP\x11aaaaaaaaaaaaaaaaa\x00"), []byte("TWUP\x01a\x00x")} {
		if _, err := DecodeUserProof(b); !errors.Is(err, ErrBadProof) {
			t.Fatalf("%q: %v", b, err)
		}
	}
}

func FuzzDecodeUserProof(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeUserProof(b)
		if err != nil {
			return
		}
		again, err := DecodeUserProof(p.Bytes())
		if err != nil || len(again.Entries) != len(p.Entries) || again.Name != p.Name {
			t.Fatalf("round trip: %v", err)
		}
		hc := NewHeaderChain(consensus.Regtest)
		_, _ = hc.VerifyUserProof(p)
	})
}
