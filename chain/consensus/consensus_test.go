package consensus

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/keys"
)

func TestPushEncoding(t *testing.T) {
	cases := []struct {
		n    int
		head []byte
	}{
		{0, []byte{0x00}}, {1, []byte{0x01}}, {75, []byte{0x4b}}, {76, []byte{0x4c, 76}},
		{255, []byte{0x4c, 0xff}}, {256, []byte{0x4d, 0x00, 0x01}}, {65535, []byte{0x4d, 0xff, 0xff}},
		{65536, []byte{0x4e, 0, 0, 1, 0}},
	}
	for _, c := range cases {
		data := bytes.Repeat([]byte{0xab}, c.n)
		s := AppendPush(nil, data)
		if !bytes.Equal(s[:len(c.head)], c.head) || len(s) != len(c.head)+c.n {
			t.Fatalf("push of %d: head %x", c.n, s[:len(c.head)])
		}
		got, err := ParsePushes(s)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], data) {
			t.Fatalf("parse push of %d: %v", c.n, err)
		}
	}
	// Small-number opcodes count as empty pushes; other opcodes fail.
	got, err := ParsePushes([]byte{0x51, 0x02, 'h', 'i', 0x60})
	if err != nil || len(got) != 3 || string(got[1]) != "hi" || len(got[0]) != 0 {
		t.Fatalf("%v %q", err, got)
	}
	for _, bad := range [][]byte{{0x61}, {0x05, 1, 2}, {0x4c}, {0x4d, 1}, {0x4e, 0xff, 0xff, 0xff, 0xff}, {0x4c, 2, 1}} {
		if _, err := ParsePushes(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x parsed: %v", bad, err)
		}
	}
	if !IsSmallString([]byte{3, 'a', 'b', 'c'}) || IsSmallString([]byte{3, 'a'}) || IsSmallString(nil) || IsSmallString([]byte{0x4c, 1, 'a'}) {
		t.Fatal("IsSmallString")
	}
	for n, want := range map[uint64][]byte{0: nil, 1: {1}, 0x7f: {0x7f}, 0x80: {0x80, 0}, 0x1234: {0x34, 0x12}, 0xffffffff: {0xff, 0xff, 0xff, 0xff, 0}} {
		if got := minimalLE(n); !bytes.Equal(got, want) {
			t.Fatalf("minimalLE(%d) = %x", n, got)
		}
	}
}

func TestCompactSize(t *testing.T) {
	for _, n := range []uint64{0, 0xfc, 0xfd, 0xffff, 0x10000, 0x02000000} {
		b := AppendCompactSize(nil, n)
		if len(b) != CompactSizeLen(n) {
			t.Fatalf("len %d", n)
		}
		got, used, err := readCompactSize(b)
		if err != nil || got != n || used != len(b) {
			t.Fatalf("%d: %d %d %v", n, got, used, err)
		}
	}
	// Non-minimal encodings are read (as twisterd does); huge ones refused.
	if n, _, err := readCompactSize([]byte{0xfd, 0x05, 0x00}); err != nil || n != 5 {
		t.Fatal("non-minimal")
	}
	if _, _, err := readCompactSize(AppendCompactSize(nil, 0x02000001)); err == nil {
		t.Fatal("too large accepted")
	}
	// A non-minimal length in a tx decodes and re-encodes canonically; the
	// tx id is that of the canonical form, as in the reference.
	tx := &Tx{Version: 1, UserName: []byte{1, 'a'}, PubKey: []byte{1, 2}}
	odd := []byte{1, 0, 0, 0, 0xfd, 0, 0, 0xfd, 2, 0, 1, 'a', 2, 1, 2, 0, 0, 0, 0}
	dec, err := DecodeTx(odd)
	if err != nil || dec.Hash() != tx.Hash() {
		t.Fatalf("non-minimal tx: %v", err)
	}
}

func TestMerkle(t *testing.T) {
	for n := 1; n <= 9; n++ {
		var ids []Hash
		for i := range n {
			ids = append(ids, DoubleSHA256([]byte{byte(i)}))
		}
		root := MerkleRoot(ids)
		for i := range n {
			br := MerkleBranch(ids, i)
			if !VerifyMerkleBranch(ids[i], br, i, root) {
				t.Fatalf("n=%d i=%d does not verify", n, i)
			}
			if VerifyMerkleBranch(ids[(i+1)%n], br, i, root) && n > 1 {
				t.Fatalf("n=%d i=%d wrong leaf verifies", n, i)
			}
			if VerifyMerkleBranch(ids[i], br, i+1<<len(br), root) {
				t.Fatal("index beyond the branch depth verifies")
			}
		}
	}
	// Two leaves: root = SHA256d(a ‖ b); three: (ab)(cc).
	a, b, c := DoubleSHA256([]byte("a")), DoubleSHA256([]byte("b")), DoubleSHA256([]byte("c"))
	if MerkleRoot([]Hash{a, b}) != hashPair(a, b) || MerkleRoot([]Hash{a, b, c}) != hashPair(hashPair(a, b), hashPair(c, c)) {
		t.Fatal("merkle layout")
	}
	if MerkleRoot(nil) != ZeroHash || MerkleBranch([]Hash{a}, 1) != nil || len(MerkleBranch([]Hash{a}, 0)) != 0 {
		t.Fatal("edge cases")
	}
}

func TestCompactTargets(t *testing.T) {
	for _, bits := range []uint32{0x1d00ffff, 0x1f03ffff, 0x207fffff, 0x1e00ffff, 0x1b0404cb, 0x03123456, 0x01120000, 0x02123400} {
		if got := TargetToCompact(CompactToTarget(bits)); got != bits {
			t.Fatalf("%08x round trips to %08x", bits, got)
		}
	}
	if CompactToTarget(0x04923456).Sign() >= 0 || CompactToTarget(0x01803456).Sign() != 0 || CompactToTarget(0).Sign() != 0 || CompactToTarget(0x00800000).Sign() != 0 {
		t.Fatal("sign handling")
	}
	if err := CheckProofOfWork(ZeroHash, 0x04923456, Mainnet.PowLimit); err == nil {
		t.Fatal("negative target accepted")
	}
	if err := CheckProofOfWork(ZeroHash, 0x2100ffff, Mainnet.PowLimit); err == nil {
		t.Fatal("target above limit accepted")
	}
	// Work: 2^256 / (target+1).
	if w := Work(0x207fffff); w.Cmp(big.NewInt(2)) != 0 {
		t.Fatalf("regtest work %v", w)
	}
	if w := Work(0x1d00ffff); w.Cmp(big.NewInt(0x100010001)) != 0 {
		t.Fatalf("difficulty-1 work %v", w)
	}
	if Work(0).Sign() != 0 {
		t.Fatal("work of zero target")
	}
	if d := Difficulty(0x1d00ffff); d != 1 {
		t.Fatalf("difficulty %v", d)
	}
	if d := Difficulty(0x1b0404cb); d < 16307.42 || d > 16307.43 {
		t.Fatalf("difficulty %v", d)
	}
}

// heights is an Ancestors over a map, for retarget tests.
type heights map[int64]*Header

func (h heights) Ancestor(n int64) (*Header, bool) { x, ok := h[n]; return x, ok }

func TestRetarget(t *testing.T) {
	p := Mainnet
	T := p.TargetTimespan
	// Hand-checked: Bitcoin's first retarget (height 32256) took 1022578 s
	// from 0x1d00ffff to 0x1d00d86a; the clamps give ×4 and ÷4.
	for _, c := range []struct {
		bits   uint32
		actual int64
		want   uint32
	}{
		{0x1d00ffff, 1022578, 0x1d00d86a},
		{0x1d00ffff, T * 10, 0x1d03fffc},
		{0x1d00ffff, 1, 0x1c3fffc0},
		{0x1d00ffff, -5000, 0x1c3fffc0},
		{0x1f03ffff, 2015 * 600, 0x1f03ff7c},
		{0x207fffff, T * 4, 0x207fffff}, // capped at the limit
		{0x207fffff, T / 4, 0x201fffff},
	} {
		if got := RetargetBits(p, c.bits, c.actual); got != c.want {
			t.Errorf("retarget %08x over %d s = %08x, want %08x", c.bits, c.actual, got, c.want)
		}
	}
	// NextBits measures from the block 2015 before the parent.
	anc := heights{}
	for h := int64(0); h < 4032; h++ {
		anc[h] = &Header{Height: int32(h), Time: uint32(1000000 + h*300), Bits: 0x1d00ffff}
	}
	if b, _ := NextBits(p, 2014, anc[2014], anc); b != 0x1d00ffff {
		t.Fatalf("no retarget at 2015: %08x", b)
	}
	b, err := NextBits(p, 2015, anc[2015], anc)
	if err != nil || b != RetargetBits(p, 0x1d00ffff, 2015*300) || b == 0x1d00ffff {
		t.Fatalf("retarget at 2016: %08x %v", b, err)
	}
	delete(anc, 0)
	if _, err := NextBits(p, 2015, anc[2015], anc); !errors.Is(err, ReasonMissingAncestor) {
		t.Fatalf("missing ancestor: %v", err)
	}
	// Median time past of 11.
	if m := MedianTimePast(p, 100, anc); m != int64(anc[95].Time) {
		t.Fatalf("median %d", m)
	}
	if m := MedianTimePast(p, 2, heights{0: {Time: 5}, 1: {Time: 9}, 2: {Time: 7}}); m != 7 {
		t.Fatalf("median of 3 = %d", m)
	}
	// ComputeMinWork: ×4 per 8 weeks, capped.
	if got := ComputeMinWork(p, 0x1d00ffff, 4*T); got != 0x1d03fffc {
		t.Fatalf("min work %08x", got)
	}
	if got := ComputeMinWork(p, 0x1d00ffff, 1000*T); got != p.PowLimitBits {
		t.Fatalf("min work cap %08x", got)
	}
}

func TestUsernames(t *testing.T) {
	for _, ok := range []string{"a", "gotest", "user_1", "0123456789abcdef"} {
		if err := CheckUsername(ok); err != nil {
			t.Fatalf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Abc", "a b", "a-b", "0123456789abcdefg", "é", "a\x00"} {
		if err := CheckUsername(bad); !errors.Is(err, ReasonBadUsername) {
			t.Fatalf("%q accepted: %v", bad, err)
		}
	}
	if _, err := NewRegistration("Bad", keys.PubKey{2}); err == nil {
		t.Fatal("bad name registered")
	}
}

func TestTransactionRules(t *testing.T) {
	k, _ := keys.GenerateKey()
	grind := func(tx *Tx) *Tx {
		if _, err := GrindRegistration(context.Background(), tx, Regtest.TxBits, nil); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	cases := []struct {
		tx     *Tx
		reason Reason
	}{
		{grind(&Tx{Version: 1, UserName: []byte{2, 'a', 'b'}}), ReasonBadTx},
		{grind(&Tx{Version: 1, PubKey: []byte{1, 2}}), ReasonBadUsername},
		{grind(&Tx{Version: 1, UserName: Pushes([]byte("ab"), []byte("c")), PubKey: []byte{1, 2}}), ReasonBadUsername},
		{grind(&Tx{Version: 1, UserName: []byte{2, 'A', 'b'}, PubKey: []byte{1, 2}}), ReasonBadUsername},
		{&Tx{Version: 1, Message: []byte{0x51}, UserName: []byte{1, 'a'}}, ReasonBadCoinbase},
		{&Tx{Version: 1, Message: AppendPush(nil, []byte{0xff, 0xfe}), UserName: []byte{1, 'a'}}, ReasonBadCoinbase},
		{&Tx{Version: 1, Message: AppendPush(nil, []byte("hi")), UserName: AppendPush(nil, bytes.Repeat([]byte{'a'}, 17))}, ReasonBadCoinbase},
		{&Tx{Version: 1, Message: AppendPush(nil, []byte(strings.Repeat("x", 140))), UserName: AppendPush(nil, []byte("nobody")), PubKey: AppendPush(nil, make([]byte, 400))}, ReasonTxTooBig},
	}
	for i, c := range cases {
		if err := CheckTransaction(Regtest, c.tx); !errors.Is(err, c.reason) {
			t.Errorf("case %d: %v, want %s", i, err, c.reason)
		}
	}
	// 140 code points of multi-byte text are fine in a coinbase.
	cb, err := NewCoinbase(strings.Repeat("ü", 140), "", nil, [4]byte{}, 0)
	if err != nil || CheckTransaction(Mainnet, cb) != nil {
		t.Fatalf("140 code points: %v", err)
	}
	if _, err := NewCoinbase(strings.Repeat("ü", 141), "", nil, [4]byte{}, 0); err == nil {
		t.Fatal("141 code points")
	}
	if _, err := NewCoinbase("hi", "alice", nil, [4]byte{}, 0); err == nil {
		t.Fatal("signed coinbase without key")
	}
	// Extra nonce 0 is an empty push (CBigNum(0).getvch() is empty).
	if !bytes.Equal(cb.PubKey, []byte{0, 6, '/', 'P', '2', 'S', 'H', '/'}) {
		t.Fatalf("coinbase pubKey %x", cb.PubKey)
	}
	_ = k
}

func TestCoinbaseSignature(t *testing.T) {
	k, _ := keys.GenerateKey()
	other, _ := keys.GenerateKey()
	cb, err := NewCoinbase("buy my stuff", "alice", k, [4]byte{1, 2, 3, 4}, 300)
	if err != nil {
		t.Fatal(err)
	}
	pm := ParseCoinbase(cb)
	if pm.User != "alice" || pm.Text != "buy my stuff" || !bytes.Equal(pm.ExtraNonce, []byte{0x2c, 0x01}) || !bytes.Equal(pm.Salt, []byte{1, 2, 3, 4}) {
		t.Fatalf("%+v", pm)
	}
	// The signature covers the serialized message script, not the text.
	h := CoinbaseSigHash(cb.Message)
	if got, err := keys.RecoverHash(h[:], pm.Sig); err != nil || !got.Equal(k.PubKey()) {
		t.Fatal("signature is not over the serialized script")
	}
	if err := VerifyCoinbase(cb, k.PubKey(), true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key keys.PubKey
		reg bool
	}{{other.PubKey(), true}, {nil, false}, {keys.PubKey{}, true}} {
		if err := VerifyCoinbase(cb, c.key, c.reg); !errors.Is(err, ReasonBadCoinbaseSig) {
			t.Fatalf("%v", err)
		}
	}
	nob, _ := NewCoinbase("", "", nil, [4]byte{}, 1)
	if err := VerifyCoinbase(nob, nil, false); err != nil {
		t.Fatal("nobody needs no signature")
	}
}

func TestReplacement(t *testing.T) {
	old, _ := keys.GenerateKey()
	nk, _ := keys.GenerateKey()
	tx, err := NewKeyReplacement("alice", nk.PubKey(), old)
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Key().Equal(nk.PubKey()) {
		t.Fatal("first push is the new key")
	}
	if err := VerifyReplacement(tx, old.PubKey()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyReplacement(tx, nk.PubKey()); !errors.Is(err, ReasonBadReplacement) {
		t.Fatal(err)
	}
	plain, _ := NewRegistration("alice", nk.PubKey())
	if err := VerifyReplacement(plain, old.PubKey()); !errors.Is(err, ReasonDuplicateName) {
		t.Fatal(err)
	}
	// An uncompressed old key only matches a signature with the
	// uncompressed header (Hash160 comparison).
	oldU, _ := keys.PrivateKeyFromBytes(old.Bytes(), false)
	if err := VerifyReplacement(tx, oldU.PubKey()); !errors.Is(err, ReasonBadReplacement) {
		t.Fatal("compression flag ignored")
	}
}

func TestGrindCancel(t *testing.T) {
	tx, _ := NewRegistration("slow", keys.PubKey{2, 3})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	// A target no hash can meet: 1.
	if _, err := GrindRegistration(ctx, tx, 0x01010000, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if _, err := GrindRegistration(context.Background(), tx, 0x01800001, nil); err == nil {
		t.Fatal("negative target accepted")
	}
}

func TestSolveBlock(t *testing.T) {
	cb, _ := NewCoinbase("", "", nil, [4]byte{}, 1)
	b := &Block{Txs: []*Tx{cb}}
	b.Header = Header{Version: 2, Height: 1, PrevBlock: Regtest.GenesisHash, Time: 1296688700, Bits: 0x207fffff}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	if err := SolveBlock(context.Background(), b, Regtest.PowLimit); err != nil {
		t.Fatal(err)
	}
	if err := CheckBlockSanity(Regtest, b, 1296688700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hard := *b
	hard.Header.Bits = 0x1d00ffff
	if err := SolveBlock(ctx, &hard, Regtest.PowLimit); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}

func TestHashStrings(t *testing.T) {
	h, err := ParseHash(Mainnet.GenesisHash.String())
	if err != nil || h != Mainnet.GenesisHash {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Fatalf("%q parsed", bad)
		}
	}
	var re *RuleError
	err = CheckUsername("A")
	if !errors.As(err, &re) || ReasonOf(err) != ReasonBadUsername || ReasonOf(errors.New("x")) != "" {
		t.Fatal("ReasonOf")
	}
}
