package chain

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	bolt "go.etcd.io/bbolt"
)

// Config holds what Open can be told; set it with Options.
type Config struct {
	// Clock returns the adjusted network time (local clock plus the peers'
	// median offset). Default time.Now.
	Clock func() time.Time
	// MaxOrphans bounds the pool of blocks whose parent is unknown
	// (default 750); the oldest is dropped when it is full.
	MaxOrphans int
	// MaxMempool bounds the registrations waiting to be mined (default 10000).
	MaxMempool int
	// BlockMaxSize is the largest block MineBlock assembles (default
	// 12500 bytes, twisterd's MAX_BLOCK_SIZE_GEN/2).
	BlockMaxSize int
	// Rand supplies the coinbase salt (default crypto/rand).
	Rand io.Reader
	// NoSync skips fsync after each commit (faster, for tests; a process
	// crash still leaves a consistent store, a power loss may not).
	NoSync bool
	// Logger receives reorganisation and rejection notes (default: discard).
	Logger *slog.Logger
}

// Option changes the Config.
type Option func(*Config)

// WithClock sets the adjusted-time source.
func WithClock(f func() time.Time) Option { return func(c *Config) { c.Clock = f } }

// WithMaxOrphans bounds the orphan block pool.
func WithMaxOrphans(n int) Option { return func(c *Config) { c.MaxOrphans = n } }

// WithMaxMempool bounds the memory pool.
func WithMaxMempool(n int) Option { return func(c *Config) { c.MaxMempool = n } }

// WithBlockMaxSize bounds the blocks MineBlock makes.
func WithBlockMaxSize(n int) Option { return func(c *Config) { c.BlockMaxSize = n } }

// WithRand sets the randomness for coinbase salts.
func WithRand(r io.Reader) Option { return func(c *Config) { c.Rand = r } }

// WithNoSync disables fsync on commit.
func WithNoSync() Option { return func(c *Config) { c.NoSync = true } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// node is a block in the in-memory index.
type node struct {
	hash    consensus.Hash
	header  consensus.Header
	height  int64
	parent  *node
	work    *big.Int // cumulative chain work up to and including this block
	status  uint8
	nTx     uint32
	chainTx uint64 // transactions in the branch up to and including this block
}

// Chain is twister's block chain on disk: the block index, the blocks, the
// best chain and every username's key history, kept in one bbolt file, plus
// an orphan pool and a memory pool of registrations. It is safe for
// concurrent use.
type Chain struct {
	params *consensus.Params
	cfg    Config
	db     *bolt.DB

	mu      sync.RWMutex
	index   map[consensus.Hash]*node
	main    []*node // best chain by height; main[len-1] is the tip
	orphans orphanPool
	pool    mempool

	notifyMu sync.Mutex // held while delivering tip changes
	pendMu   sync.Mutex
	pending  []TipChange // queued tip changes, in order
	subsMu   sync.Mutex
	subs     map[int]func(TipChange)
	nextSub  int
}

// ErrNotFound is returned for unknown blocks, heights and transactions.
var ErrNotFound = errors.New("chain: not found")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("chain: closed")

// Open opens (or creates) the chain stored in dir for the network params.
// A new store starts with the network's genesis block; an existing one
// must belong to the same network.
func Open(dir string, params *consensus.Params, opts ...Option) (*Chain, error) {
	cfg := Config{Clock: time.Now, MaxOrphans: 750, MaxMempool: 10000, BlockMaxSize: consensus.MaxBlockSize / 4, Rand: rand.Reader}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "chain.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("chain: open store: %w", err)
	}
	c := &Chain{params: params, cfg: cfg, db: db, index: map[consensus.Hash]*node{}, subs: map[int]func(TipChange){}}
	c.orphans.init(cfg.MaxOrphans)
	c.pool.init(cfg.MaxMempool)
	if err := c.load(); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// load creates the buckets and the genesis block if needed and reads the
// block index into memory.
func (c *Chain) load() error {
	g := c.params.GenesisBlock
	gh := g.Hash()
	if gh != c.params.GenesisHash {
		return fmt.Errorf("chain: params genesis block hashes to %s, not %s", gh, c.params.GenesisHash)
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketNodes, bucketBlocks, bucketMain, bucketUsers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if stored := meta.Get(keyGenesis); stored != nil {
			if consensus.Hash(stored) != gh {
				return fmt.Errorf("chain: store holds network with genesis %s, not %s (%s)", consensus.Hash(stored), gh, c.params.Name)
			}
			return nil
		}
		n := &node{hash: gh, header: g.Header, work: consensus.Work(g.Header.Bits), nTx: uint32(len(g.Txs)), chainTx: uint64(len(g.Txs))}
		if err := tx.Bucket(bucketNodes).Put(gh[:], encodeNode(n)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBlocks).Put(gh[:], g.Bytes()); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMain).Put(heightKey(0), gh[:]); err != nil {
			return err
		}
		if err := meta.Put(keyVersion, []byte{storeVersion}); err != nil {
			return err
		}
		if err := meta.Put(keyTip, gh[:]); err != nil {
			return err
		}
		return meta.Put(keyGenesis, gh[:])
	})
	if err != nil {
		return fmt.Errorf("chain: init store: %w", err)
	}
	return c.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketNodes).ForEach(func(k, v []byte) error {
			n, err := decodeNode(v)
			if err != nil {
				return err
			}
			if consensus.Hash(k) != n.hash {
				return fmt.Errorf("chain: block index record %x holds header %s", k, n.hash)
			}
			c.index[n.hash] = n
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range c.index {
			if n.height == 0 {
				continue
			}
			p, ok := c.index[n.header.PrevBlock]
			if !ok || p.height != n.height-1 {
				return fmt.Errorf("chain: block %s has no parent in the index", n.hash)
			}
			n.parent = p
		}
		tipHash := tx.Bucket(bucketMeta).Get(keyTip)
		tip, ok := c.index[consensus.Hash(tipHash)]
		if !ok {
			return fmt.Errorf("chain: tip %x is not in the block index", tipHash)
		}
		c.main = make([]*node, tip.height+1)
		for n := tip; n != nil; n = n.parent {
			c.main[n.height] = n
		}
		if c.main[0] == nil || c.main[0].hash != gh {
			return fmt.Errorf("chain: best chain does not start at the genesis block")
		}
		return nil
	})
}

// Close closes the store. The chain must not be used afterwards.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return nil
	}
	err := c.db.Close()
	c.db = nil
	return err
}

// Params returns the network parameters.
func (c *Chain) Params() *consensus.Params { return c.params }

func (c *Chain) now() int64 { return c.cfg.Clock().Unix() }

func (c *Chain) tip() *node { return c.main[len(c.main)-1] }

// onMain tells whether n is on the best chain.
func (c *Chain) onMain(n *node) bool {
	return n.height < int64(len(c.main)) && c.main[n.height] == n
}

// ancestor returns n's ancestor at height h (nil if h is out of range).
func (c *Chain) ancestor(n *node, h int64) *node {
	if h < 0 || h > n.height {
		return nil
	}
	for n.height > h {
		if c.onMain(n) {
			return c.main[h]
		}
		n = n.parent
	}
	return n
}

// ancestry is the consensus.Ancestors view of the branch ending at a node.
type ancestry struct {
	c   *Chain
	end *node
}

func (a ancestry) Ancestor(h int64) (*consensus.Header, bool) {
	n := a.c.ancestor(a.end, h)
	if n == nil {
		return nil, false
	}
	return &n.header, true
}
