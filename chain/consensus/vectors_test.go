package consensus

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/big"
	"runtime"
	"testing"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

func TestGenesisMainnet(t *testing.T) {
	d := vectors.Derived()
	g := Mainnet.GenesisBlock
	if got := hex.EncodeToString(g.Txs[0].Bytes()); got != vectors.Str(d, "verified", "genesis_mainnet", "coinbase_tx_hex") {
		t.Fatalf("coinbase hex = %s", got)
	}
	if got := g.Txs[0].Hash().String(); got != vectors.Str(d, "verified", "genesis_mainnet", "coinbase_txid_display") {
		t.Fatalf("coinbase txid = %s", got)
	}
	if got := g.Header.MerkleRoot.String(); got != vectors.Str(d, "verified", "genesis_mainnet", "merkle_root_display") {
		t.Fatalf("merkle root = %s", got)
	}
	hdr := g.Header.Serialize()
	if got := hex.EncodeToString(hdr[:]); got != vectors.Str(d, "verified", "genesis_mainnet", "header_hex_84_bytes") {
		t.Fatalf("header = %s", got)
	}
	if g.Hash() != Mainnet.GenesisHash || g.Hash().String() != vectors.Str(d, "verified", "genesis_mainnet", "block_hash_display") {
		t.Fatalf("genesis hash = %s", g.Hash())
	}
	if got := rawHex(g.Hash()); got != vectors.Str(d, "verified", "genesis_mainnet", "block_hash_raw") {
		t.Fatalf("raw hash = %s", got)
	}
	pow := g.Header.PoWHash()
	if got := pow.String(); got != vectors.Str(d, "verified", "genesis_mainnet", "scrypt_pow_hash_display") {
		t.Fatalf("scrypt hash = %s", got)
	}
	if err := CheckProofOfWork(pow, g.Header.Bits, Mainnet.PowLimit); err != nil {
		t.Fatal(err)
	}
	tgt := CompactToTarget(g.Header.Bits)
	if got := hex.EncodeToString(tgt.FillBytes(make([]byte, 32))); got != vectors.Str(d, "verified", "genesis_mainnet", "target_display") {
		t.Fatalf("target = %s", got)
	}
	raw := vectors.Hex(d, "verified", "genesis_mainnet", "block_hex")
	if !bytes.Equal(g.Bytes(), raw) {
		t.Fatal("block bytes differ")
	}
	dec, err := DecodeBlock(raw)
	if err != nil || dec.Hash() != g.Hash() || !bytes.Equal(dec.Bytes(), raw) {
		t.Fatalf("decode: %v", err)
	}
	if err := CheckBlockSanity(Mainnet, dec, int64(dec.Header.Time)); err != nil {
		t.Fatal(err)
	}
}

func TestConstants(t *testing.T) {
	d := vectors.Derived()
	c := func(k string) string { return vectors.Str(d, "verified", "constants", k) }
	if hex.EncodeToString(Mainnet.Magic[:]) != c("p2p_magic_mainnet") || hex.EncodeToString(Regtest.Magic[:]) != c("p2p_magic_regtest") {
		t.Fatal("magic")
	}
	if int64(Mainnet.DefaultPort) != vectors.Int(d, "verified", "constants", "p2p_port_mainnet") ||
		int64(Mainnet.RPCPort) != vectors.Int(d, "verified", "constants", "rpc_port_mainnet") {
		t.Fatal("ports")
	}
	if Regtest.DefaultPort != 18444 || Regtest.RPCPort != 18332 {
		t.Fatal("regtest ports")
	}
	if got := hex.EncodeToString(Mainnet.PowLimit.FillBytes(make([]byte, 32))); got != c("pow_limit_display") {
		t.Fatalf("pow limit %s", got)
	}
	if got := TargetToCompact(Mainnet.PowLimit); got != 0x207fffff || Mainnet.PowLimitBits != got {
		t.Fatalf("pow limit compact %08x", got)
	}
	if c("pow_limit_compact") != "207fffff" || c("tx_pow_bits_mainnet") != "1e00ffff" || Mainnet.TxBits != 0x1e00ffff {
		t.Fatal("tx bits")
	}
	if got := hex.EncodeToString(CompactToTarget(Mainnet.TxBits).FillBytes(make([]byte, 32))); got != c("tx_pow_target_display") {
		t.Fatalf("tx target %s", got)
	}
	if vectors.Int(d, "verified", "constants", "max_block_size") != MaxBlockSize ||
		vectors.Int(d, "verified", "constants", "max_tx_size_consensus") != MaxTxSize ||
		vectors.Int(d, "verified", "constants", "max_time_in_future_s") != Mainnet.MaxFutureBlock {
		t.Fatal("sizes")
	}
	cps, _ := vectors.Path(d, "verified", "checkpoints_mainnet_display").(map[string]any)
	if len(cps) != len(Mainnet.Checkpoints) {
		t.Fatalf("%d checkpoints, vectors have %d", len(Mainnet.Checkpoints), len(cps))
	}
	for _, cp := range Mainnet.Checkpoints {
		want, _ := cps[big.NewInt(cp.Height).String()].(string)
		if cp.Hash.String() != want {
			t.Errorf("checkpoint %d = %s, want %s", cp.Height, cp.Hash, want)
		}
	}
}

func TestRegtestGenesis(t *testing.T) {
	v := vectors.Verified()
	g := Regtest.GenesisBlock
	if g.Hash().String() != vectors.Str(v, "chain", "regtest_genesis", "hash_display") || g.Hash() != Regtest.GenesisHash {
		t.Fatalf("regtest genesis = %s", g.Hash())
	}
	if !bytes.Equal(g.Bytes(), vectors.Hex(v, "chain", "regtest_genesis", "block_hex")) {
		t.Fatal("regtest genesis bytes")
	}
	if err := CheckBlockSanity(Regtest, g, int64(g.Header.Time)); err != nil {
		t.Fatal(err)
	}
	// The reference's nonce 2 fails its own proof of work.
	h := g.Header
	h.Nonce = 2
	if err := CheckProofOfWork(h.PoWHash(), h.Bits, Regtest.PowLimit); err == nil {
		t.Fatal("nonce 2 should fail the regtest proof of work")
	}
}

func TestRegistrationVector(t *testing.T) {
	d := vectors.Derived()
	reg := func(k string) string { return vectors.Str(d, "derived_by_spec", "registration_tx", k) }
	pub, err := keys.ParsePubKeyHex(reg("pubkey_hex"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := NewRegistration(reg("username"), pub)
	if err != nil {
		t.Fatal(err)
	}
	tx.Nonce = uint32(vectors.Int(d, "derived_by_spec", "registration_tx", "nNonce"))
	if got := hex.EncodeToString(tx.Bytes()); got != reg("tx_hex") {
		t.Fatalf("tx hex = %s", got)
	}
	if tx.Hash().String() != reg("txid_display") || rawHex(tx.Hash()) != reg("txid_raw") {
		t.Fatalf("txid = %s", tx.Hash())
	}
	if got := UsernameHash("gotest"); hex.EncodeToString(got[:]) != reg("username_hash_raw") {
		t.Fatalf("username hash = %x", got)
	}
	if err := CheckTransaction(Mainnet, tx); err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeTx(tx.Bytes())
	if err != nil || dec.Username() != "gotest" || !dec.Key().Equal(pub) || dec.Nonce != tx.Nonce {
		t.Fatalf("decode: %v %+v", err, dec)
	}
	// Verified against a running daemon: decoderawtransaction's "txid" is
	// the username hash in display order.
	v := vectors.Verified()
	if UsernameHash("gotest").String() != vectors.Str(v, "derived_checks", "registration_tx", "decoderawtransaction", "txid") {
		t.Fatal("username hash vs daemon")
	}
	if tx.Hash().String() != vectors.Str(v, "derived_checks", "registration_tx", "sendrawtransaction_result") {
		t.Fatal("txid vs daemon")
	}
	bad := tx.Clone()
	bad.Nonce++
	if err := CheckTransaction(Mainnet, bad); !errors.Is(err, ReasonBadTxPoW) {
		t.Fatalf("nonce+1: %v", err)
	}
	if testing.Short() || runtime.GOARCH == "wasm" {
		t.Skip("grinding ~12M SHA256d (seconds natively, minutes in wasm) skipped under -short and wasm")
	}
	grind := tx.Clone()
	grind.Nonce = 0
	var calls int
	nonce, err := GrindRegistration(context.Background(), grind, Mainnet.TxBits, func(uint64) { calls++ })
	if err != nil || nonce != tx.Nonce || grind.Nonce != tx.Nonce {
		t.Fatalf("grind = %d, %v; want %d", nonce, err, tx.Nonce)
	}
	if calls == 0 {
		t.Fatal("progress never called")
	}
}

func TestGotest2Registration(t *testing.T) {
	v := vectors.Verified()
	raw := vectors.Hex(v, "chain", "gotest2_registration_tx_hex")
	tx, err := DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Username() != "gotest2" || tx.Nonce != 2 || !bytes.Equal(tx.Bytes(), raw) {
		t.Fatalf("%+v", tx)
	}
	if tx.Hash().String() != "268788a3335d610e7c67eff9435065a59edeac2989ce4f192c30644e70347aaa" {
		t.Fatalf("txid %s", tx.Hash())
	}
	if err := CheckTransaction(Regtest, tx); err != nil {
		t.Fatal(err)
	}
	if err := CheckTransaction(Mainnet, tx); !errors.Is(err, ReasonBadTxPoW) {
		t.Fatalf("mainnet: %v", err)
	}
	// Grinding from 0 finds the daemon's nonce (the first below target).
	g := tx.Clone()
	g.Nonce = 0
	if n, err := GrindRegistration(context.Background(), g, Regtest.TxBits, nil); err != nil || n != 2 {
		t.Fatalf("grind = %d, %v", n, err)
	}
	if UsernameHash("gotest2").String() != "e10690d595093fe93bbdf1e3d9ece0d8e665c08f78305ae7d57bc832f93f76f7" {
		t.Fatal("username hash")
	}
}

func TestRegtestBlock1(t *testing.T) {
	v := vectors.Verified()
	raw := vectors.Hex(v, "chain", "regtest_block1", "block_hex")
	b, err := DecodeBlock(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), raw) || b.SerializeSize() != 350 {
		t.Fatal("re-encoding differs")
	}
	if b.Hash().String() != vectors.Str(v, "chain", "regtest_block1", "hash_display") {
		t.Fatalf("hash %s", b.Hash())
	}
	if b.Header.PrevBlock != Regtest.GenesisHash || b.Header.Height != 1 || b.Header.Version != 2 {
		t.Fatalf("header %+v", b.Header)
	}
	for i, want := range []string{
		"ecae8c9ce7b9f1b034665a7d7da23b530f50fac1aad40995ff0bd0284ba18131",
		"000000e4d576c80ff04b58aa3e566c5c69a220ce272a5e13df9ab0a28bdae737",
		"268788a3335d610e7c67eff9435065a59edeac2989ce4f192c30644e70347aaa",
	} {
		if b.Txs[i].Hash().String() != want {
			t.Errorf("tx %d = %s", i, b.Txs[i].Hash())
		}
	}
	pm := ParseCoinbase(b.Txs[0])
	if pm.Text != DefaultPromotedMessage || pm.User != NobodyUser || len(pm.Sig) != 0 || len(pm.Salt) != 4 || !bytes.Equal(pm.ExtraNonce, []byte{1}) {
		t.Fatalf("coinbase %+v", pm)
	}
	// Our coinbase builder makes the same bytes given the same salt.
	var salt [4]byte
	copy(salt[:], pm.Salt)
	cb, err := NewCoinbase("", "", nil, salt, 1)
	if err != nil || !bytes.Equal(cb.Bytes(), b.Txs[0].Bytes()) {
		t.Fatalf("coinbase rebuild: %v", err)
	}
	if err := CheckBlockSanity(Regtest, b, int64(b.Header.Time)); err != nil {
		t.Fatal(err)
	}
}

func rawHex(h Hash) string { return hex.EncodeToString(h[:]) }
