package consensus

import (
	"fmt"
	"unicode/utf8"

	"github.com/gotwister/twister/keys"
)

// DefaultPromotedMessage is twisterd's default coinbase text
// (src/main.h: strSpamMessage).
const DefaultPromotedMessage = "Promoted posts are needed to run the network infrastructure. If you want to help, start generating blocks and advertise. [en]"

// NobodyUser is the promoted-message user that needs no signature.
const NobodyUser = "nobody"

// coinbaseFlags is the push twisterd appends after the extra nonce
// (COINBASE_FLAGS, src/init.cpp).
var coinbaseFlags = []byte("/P2SH/")

// PromotedMessage is the content of a coinbase transaction
// (src/main.cpp: CreateSpamMsgTx(), IncrementExtraNonce()).
type PromotedMessage struct {
	Text       string // 1..140 code points of UTF-8
	User       string // the spam user; "nobody" needs no signature
	Sig        []byte // compact signature by User over CoinbaseSigHash(message script), or empty
	Salt       []byte // 4 random bytes per miner thread
	ExtraNonce []byte // the first push of the pubKey script (minimal little-endian)
}

// NewCoinbase builds the coinbase carrying text from user:
//
//	message  = push(text)
//	userName = push(user) ‖ push(sig or empty) ‖ push(salt)
//	pubKey   = push(extraNonce, minimal little-endian) ‖ push("/P2SH/")
//	nNonce   = 0
//
// key signs the message script when user is not "nobody" (it must then be
// non-nil); for "nobody" the signature push is empty.
func NewCoinbase(text, user string, key *keys.PrivateKey, salt [4]byte, extraNonce uint32) (*Tx, error) {
	if text == "" {
		text = DefaultPromotedMessage
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("consensus: promoted message is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(text); n > MaxPromotedMessageChars {
		return nil, fmt.Errorf("consensus: promoted message has %d code points, more than 140", n)
	}
	if user == "" {
		user = NobodyUser
	}
	if len(user) > MaxUsernameSize {
		return nil, fmt.Errorf("consensus: promoted message user %q is longer than 16 bytes", user)
	}
	tx := &Tx{Version: TxVersion, Message: AppendPush(nil, []byte(text))}
	var sig []byte
	if user != NobodyUser {
		if key == nil {
			return nil, fmt.Errorf("consensus: promoted message by %q needs %q's key", user, user)
		}
		h := CoinbaseSigHash(tx.Message)
		sig = key.SignHash(h[:])
	}
	tx.UserName = Pushes([]byte(user), sig, salt[:])
	tx.PubKey = Pushes(minimalLE(uint64(extraNonce)), coinbaseFlags)
	return tx, nil
}

// SetExtraNonce rewrites a coinbase's pubKey script with a new extra nonce.
func SetExtraNonce(tx *Tx, extraNonce uint32) {
	tx.PubKey = Pushes(minimalLE(uint64(extraNonce)), coinbaseFlags)
}

// CoinbaseSigHash is the digest a promoted message is signed over: the
// magic hash of the serialized message script, CompactSize(len) ‖ script
// (not the bare text).
func CoinbaseSigHash(messageScript []byte) [32]byte {
	m := AppendCompactSize(nil, uint64(len(messageScript)))
	return keys.MagicHash(append(m, messageScript...))
}

// ParseCoinbase extracts the fields of a coinbase, reading pushes as
// twisterd's ExtractPushDataString does (a missing push reads as empty).
func ParseCoinbase(tx *Tx) PromotedMessage {
	return PromotedMessage{
		Text:       string(pushAt(tx.Message, 0)),
		User:       string(pushAt(tx.UserName, 0)),
		Sig:        pushAt(tx.UserName, 1),
		Salt:       pushAt(tx.UserName, 2),
		ExtraNonce: pushAt(tx.PubKey, 0),
	}
}

// VerifyCoinbase checks the promoted message's signature as ConnectBlock()
// does: for a user other than "nobody", the second userName push must be a
// compact signature over CoinbaseSigHash(message) that recovers to the key
// the user had registered (Hash160 comparison). userKey is that key, nil
// if the user is not registered.
func VerifyCoinbase(tx *Tx, userKey keys.PubKey, registered bool) error {
	pm := ParseCoinbase(tx)
	if pm.User == NobodyUser {
		return nil
	}
	if len(pm.Sig) == 0 {
		return ruleErr(ReasonBadCoinbaseSig, "promoted message by %q has no signature", pm.User)
	}
	if !registered {
		return ruleErr(ReasonBadCoinbaseSig, "promoted message signed by unknown user %q", pm.User)
	}
	if len(userKey) == 0 {
		return ruleErr(ReasonBadCoinbaseSig, "promoted message user %q has a broken registered key", pm.User)
	}
	h := CoinbaseSigHash(tx.Message)
	got, err := keys.RecoverHash(h[:], pm.Sig)
	if err != nil {
		return ruleErr(ReasonBadCoinbaseSig, "promoted message by %q: %v", pm.User, err)
	}
	if got.ID() != userKey.ID() {
		return ruleErr(ReasonBadCoinbaseSig, "promoted message is not signed by %q's key", pm.User)
	}
	return nil
}
