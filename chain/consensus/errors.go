package consensus

import (
	"errors"
	"fmt"
)

// Reason is the short code of a broken rule. It is itself an error, so
// that errors.Is(err, consensus.ReasonBadMerkleRoot) tells why a block or
// transaction was refused.
type Reason string

// Error implements error.
func (r Reason) Error() string { return string(r) }

// Reasons for refusing blocks, headers and transactions.
const (
	ReasonMalformed          Reason = "malformed"              // does not decode
	ReasonBlockSize          Reason = "bad-blk-length"         // no transactions, or larger than 50,000 bytes
	ReasonBadBlockPoW        Reason = "high-hash"              // scrypt hash above target, or target outside the limit
	ReasonTimeTooNew         Reason = "time-too-new"           // more than 2 h after the adjusted time
	ReasonTimeTooOld         Reason = "time-too-old"           // not after the median of the previous 11 blocks
	ReasonNoCoinbase         Reason = "bad-cb-missing"         // first transaction is not a coinbase
	ReasonExtraCoinbase      Reason = "bad-cb-multiple"        // a later transaction is a coinbase
	ReasonBadCoinbase        Reason = "bad-cb-message"         // promoted message empty, not UTF-8, too long, bad user
	ReasonBadCoinbaseSig     Reason = "bad-cb-signature"       // promoted message not signed by its user's key
	ReasonBadTx              Reason = "bad-tx"                 // other malformed registration (e.g. empty pubKey)
	ReasonTxTooBig           Reason = "bad-tx-size"            // transaction above 512 bytes
	ReasonBadUsername        Reason = "bad-username"           // username not 1..16 of a-z 0-9 _
	ReasonBadTxPoW           Reason = "bad-tx-pow"             // registration proof of work above the tx target
	ReasonDuplicateTx        Reason = "bad-txns-duplicate"     // the same tx id twice in a block
	ReasonDuplicateUserBlock Reason = "bad-username-duplicate" // two registrations of one name in a block
	ReasonBadMerkleRoot      Reason = "bad-txnmrklroot"        // merkle root does not match the transactions
	ReasonBadBits            Reason = "bad-diffbits"           // bits differ from the required difficulty
	ReasonBadVersion         Reason = "bad-version"            // block version below 2
	ReasonBadHeight          Reason = "bad-height"             // height field differs from the block's height
	ReasonCheckpoint         Reason = "checkpoint-mismatch"    // a checkpointed height with another hash
	ReasonTooLittleWork      Reason = "too-little-work"        // fork below the last checkpoint's minimum work
	ReasonDuplicateName      Reason = "name-taken"             // name already registered, not a key replacement
	ReasonBadReplacement     Reason = "bad-replacement"        // key replacement not signed by the registered key
	ReasonBadPrevBlock       Reason = "bad-prevblk"            // parent block is known to be invalid
	ReasonDuplicateBlock     Reason = "duplicate"              // block already known
	ReasonNonStandard        Reason = "non-standard"           // mempool policy (version, size ≥ 700, loose coinbase, pool full)
	ReasonMissingAncestor    Reason = "missing-ancestor"       // a header needed for the check is not available
)

// RuleError says which rule a block, header or transaction broke, with
// details. errors.Is(err, reason) matches its Reason.
type RuleError struct {
	Reason Reason
	Detail string
}

// Error implements error.
func (e *RuleError) Error() string {
	return "chain: rejected (" + string(e.Reason) + "): " + e.Detail
}

// Unwrap returns the Reason, so errors.Is matches it.
func (e *RuleError) Unwrap() error { return e.Reason }

func ruleErr(r Reason, format string, args ...any) error {
	return &RuleError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// NewRuleError makes a RuleError, for packages that enforce rules on top of
// these (the chain store, the light client).
func NewRuleError(r Reason, format string, args ...any) error {
	return ruleErr(r, format, args...)
}

// ReasonOf returns the Reason of a rule error ("" for other errors).
func ReasonOf(err error) Reason {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Reason
	}
	var r Reason
	if errors.As(err, &r) {
		return r
	}
	return ""
}
