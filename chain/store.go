package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	bolt "go.etcd.io/bbolt"
)

// On-disk layout (one bbolt file, dir/chain.db):
//
//	meta:   "genesis" → genesis hash, "tip" → best block hash, "version" → storeVersion
//	nodes:  block hash → nodeRecord (header, height, status, tx counts, chain work)
//	blocks: block hash → serialized block
//	main:   height (8 bytes big-endian) → block hash of the best chain
//	users:  username → key history, one userEntry per registration, ascending height
//
// Every change of the best chain (connecting one block, or a whole
// reorganisation) is one bbolt transaction that moves meta/tip, main and
// users together, so the store is consistent after a crash at any moment.
var (
	bucketMeta   = []byte("meta")
	bucketNodes  = []byte("nodes")
	bucketBlocks = []byte("blocks")
	bucketMain   = []byte("main")
	bucketUsers  = []byte("users")

	keyGenesis = []byte("genesis")
	keyTip     = []byte("tip")
	keyVersion = []byte("version")
)

const storeVersion = 1

// Node status values.
const (
	statusValid  = 0 // block stored, header rules checked
	statusFailed = 1 // block broke a rule when connected, or descends from one that did
)

// nodeRecordSize is header(84) + height(8) + status(1) + nTx(4) + chainTx(8) + work(32).
const nodeRecordSize = consensus.HeaderSize + 8 + 1 + 4 + 8 + 32

func encodeNode(n *node) []byte {
	b := make([]byte, 0, nodeRecordSize)
	b = n.header.AppendTo(b)
	b = binary.BigEndian.AppendUint64(b, uint64(n.height))
	b = append(b, n.status)
	b = binary.BigEndian.AppendUint32(b, n.nTx)
	b = binary.BigEndian.AppendUint64(b, n.chainTx)
	return append(b, n.work.FillBytes(make([]byte, 32))...)
}

func decodeNode(b []byte) (*node, error) {
	if len(b) != nodeRecordSize {
		return nil, fmt.Errorf("chain: corrupt block index record (%d bytes)", len(b))
	}
	h, err := consensus.DecodeHeader(b[:consensus.HeaderSize])
	if err != nil {
		return nil, err
	}
	o := consensus.HeaderSize
	n := &node{header: h, hash: h.Hash()}
	n.height = int64(binary.BigEndian.Uint64(b[o:]))
	n.status = b[o+8]
	n.nTx = binary.BigEndian.Uint32(b[o+9:])
	n.chainTx = binary.BigEndian.Uint64(b[o+13:])
	n.work = new(big.Int).SetBytes(b[o+21:])
	return n, nil
}

func heightKey(h int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(h)) }

// userEntry is one registration of a name: the block height, the
// transaction's position in the block, its id and the key it registers.
type userEntry struct {
	Height  int64
	TxIndex uint32
	TxID    consensus.Hash
	Key     keys.PubKey
}

func encodeUserEntries(es []userEntry) []byte {
	var b []byte
	for _, e := range es {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Height))
		b = binary.BigEndian.AppendUint32(b, e.TxIndex)
		b = append(b, e.TxID[:]...)
		b = consensus.AppendCompactSize(b, uint64(len(e.Key)))
		b = append(b, e.Key...)
	}
	return b
}

var errCorruptUser = errors.New("chain: corrupt username record")

func decodeUserEntries(b []byte) ([]userEntry, error) {
	var es []userEntry
	for len(b) > 0 {
		if len(b) < 8+4+32+1 {
			return nil, errCorruptUser
		}
		var e userEntry
		e.Height = int64(binary.BigEndian.Uint64(b))
		e.TxIndex = binary.BigEndian.Uint32(b[8:])
		copy(e.TxID[:], b[12:44])
		b = b[44:]
		// Keys are at most a few hundred bytes: a 1- or 3-byte CompactSize.
		var n, used int
		switch {
		case b[0] < 0xfd:
			n, used = int(b[0]), 1
		case b[0] == 0xfd && len(b) >= 3:
			n, used = int(binary.LittleEndian.Uint16(b[1:])), 3
		default:
			return nil, errCorruptUser
		}
		if len(b) < used+n {
			return nil, errCorruptUser
		}
		e.Key = keys.PubKey(append([]byte{}, b[used:used+n]...))
		b = b[used+n:]
		es = append(es, e)
	}
	return es, nil
}

func readUser(tx *bolt.Tx, name string) ([]userEntry, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	return decodeUserEntries(v)
}

func writeUser(tx *bolt.Tx, name string, es []userEntry) error {
	if len(es) == 0 {
		return tx.Bucket(bucketUsers).Delete([]byte(name))
	}
	return tx.Bucket(bucketUsers).Put([]byte(name), encodeUserEntries(es))
}

// boltUsers is the consensus.UserState of a bbolt transaction, which sees
// its own writes (the branch being connected).
type boltUsers struct{ tx *bolt.Tx }

func (u boltUsers) Registration(user string) (consensus.Registration, bool, error) {
	es, err := readUser(u.tx, user)
	if err != nil || len(es) == 0 {
		return consensus.Registration{}, false, err
	}
	e := es[len(es)-1]
	return consensus.Registration{TxID: e.TxID, Key: e.Key, Height: e.Height}, true, nil
}

func readBlock(tx *bolt.Tx, h consensus.Hash) (*consensus.Block, error) {
	raw := tx.Bucket(bucketBlocks).Get(h[:])
	if raw == nil {
		return nil, fmt.Errorf("chain: block %s is missing from the store", h)
	}
	return consensus.DecodeBlock(raw)
}
