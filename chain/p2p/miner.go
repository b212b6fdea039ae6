package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// MinerChain is what Miner needs of the block chain; *chain.Chain
// implements it.
type MinerChain interface {
	Params() *consensus.Params
	Tip() *chain.BlockInfo
	NewBlockTemplate(user string, key *keys.PrivateKey, msg string) (*consensus.Block, error)
	ProcessBlock(b *consensus.Block) (orphan bool, err error)
	MempoolSize() int
}

var _ MinerChain = (*chain.Chain)(nil)

// MinerConfig holds what a Miner is given.
type MinerConfig struct {
	// Chain supplies block templates and takes the mined blocks. Required.
	Chain MinerChain
	// Broadcast, if set, is called with each block mined and connected
	// (e.g. Node.BroadcastBlock).
	Broadcast func(h consensus.Hash)
	// Peers, if set, returns the connection count: outside regtest,
	// workers wait while it is 0, as twisterd does not mine alone.
	Peers func() int
	// Continuous makes regtest mine without stopping; by default a
	// regtest worker stops after one block, as twisterd's does.
	Continuous bool
	// Threads is the worker count for a genproclimit of -1 outside
	// regtest (default runtime.NumCPU).
	Threads func() int
	// MeterWindow is the hash-rate averaging window (default 4 s); a
	// measurement older than two windows reads as 0.
	MeterWindow time.Duration
	// PollInterval is how often the mine-on-registration mode looks at the
	// memory pool between notifications (default 500 ms).
	PollInterval time.Duration
	// Logger receives notes on mined blocks (default: discard).
	Logger *slog.Logger
	// Clock is the time source (default time.Now).
	Clock func() time.Time
}

// Miner mines blocks on a chain with twisterd's setgenerate semantics:
// SetProcLimit records -genproclimit and SetGenerate(true) starts that many
// workers (-1: one on regtest, every CPU elsewhere; 0 turns generation
// off). On regtest each worker mines exactly one block and stops, so
// "setgenerate true N" mines N blocks while Generate keeps reporting true;
// elsewhere (or with Continuous) workers mine until SetGenerate(false).
// Every block mined is connected to the chain and broadcast. The coinbase
// carries the promoted message set with SetPromoted. Independently,
// SetMineOnRegistration makes it mine a block whenever a registration
// waits in the memory pool (for development networks).
type Miner struct {
	cfg     MinerConfig
	chain   MinerChain
	params  *consensus.Params
	regtest bool
	log     *slog.Logger

	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	notifyCh chan struct{}
	submitMu sync.Mutex

	mu         sync.Mutex
	closed     bool
	generate   bool
	procLimit  int
	cancel     context.CancelFunc // current workers
	running    int
	idle       chan struct{} // closed when running drops to 0
	user       string
	key        *keys.PrivateKey
	msg        string
	autoCancel context.CancelFunc
	lastSize   int
	lastTx     int
	mined      int64

	meterMu    sync.Mutex
	meterStart time.Time
	meterCount int64
	hps        float64
	hpsAt      time.Time
}

// NewMiner returns an idle Miner.
func NewMiner(cfg MinerConfig) (*Miner, error) {
	if cfg.Chain == nil {
		return nil, errors.New("p2p: MinerConfig.Chain is required")
	}
	p := cfg.Chain.Params()
	if p == nil {
		return nil, errors.New("p2p: chain has no network parameters")
	}
	if cfg.Threads == nil {
		cfg.Threads = runtime.NumCPU
	}
	if cfg.MeterWindow <= 0 {
		cfg.MeterWindow = 4 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	m := &Miner{
		cfg: cfg, chain: cfg.Chain, params: p, log: cfg.Logger,
		regtest:   p.Name == consensus.Regtest.Name,
		procLimit: -1,
		notifyCh:  make(chan struct{}, 1),
		idle:      make(chan struct{}),
	}
	close(m.idle)
	m.ctx, m.stop = context.WithCancel(context.Background())
	return m, nil
}

// SetProcLimit records genproclimit (twisterd's -genproclimit): the number
// of workers the next SetGenerate(true) starts, -1 for the default, 0 to
// keep generation off. It does not restart running workers.
func (m *Miner) SetProcLimit(n int) {
	m.mu.Lock()
	m.procLimit = n
	m.mu.Unlock()
}

// ProcLimit returns genproclimit (-1 unless set), as getmininginfo shows.
func (m *Miner) ProcLimit() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.procLimit
}

// SetGenerate turns generation on or off (setgenerate): running workers
// are interrupted and, if on and genproclimit is not 0, new ones start. It
// returns at once.
func (m *Miner) SetGenerate(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	m.generate = on && m.procLimit != 0
	if !m.generate {
		return
	}
	threads := m.procLimit
	if threads < 0 {
		threads = 1
		if !m.regtest {
			threads = max(m.cfg.Threads(), 1)
		}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	once := m.regtest && !m.cfg.Continuous
	if m.running == 0 {
		m.idle = make(chan struct{})
	}
	for range threads {
		m.running++
		m.wg.Add(1)
		go m.worker(ctx, once)
	}
}

// Generate reports the generate flag (getgenerate); on regtest it stays
// true after the requested blocks are mined, as twisterd's does.
func (m *Miner) Generate() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generate
}

// Working tells whether mining workers are running.
func (m *Miner) Working() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running > 0
}

// Wait blocks until no worker runs (on regtest: the requested blocks are
// mined) or ctx ends.
func (m *Miner) Wait(ctx context.Context) error {
	m.mu.Lock()
	ch := m.idle
	m.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetPromoted sets the promoted message of the coinbases mined from now
// on (setspammsg): user ("" or "nobody" for no signature), user's current
// key, and the text ("" for the default). If user is not registered or key
// is not its current key, blocks are mined as "nobody" with the same text,
// as twisterd does.
func (m *Miner) SetPromoted(user string, key *keys.PrivateKey, msg string) {
	m.mu.Lock()
	m.user, m.key, m.msg = user, key, msg
	m.mu.Unlock()
}

// Promoted returns the promoted user and text (getspammsg), with the
// defaults filled in.
func (m *Miner) Promoted() (user, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	user, msg = m.user, m.msg
	if user == "" {
		user = consensus.NobodyUser
	}
	if msg == "" {
		msg = consensus.DefaultPromotedMessage
	}
	return user, msg
}

// HashesPerSec returns the recent hash rate (gethashespersec), 0 when no
// measurement is recent.
func (m *Miner) HashesPerSec() int64 {
	m.meterMu.Lock()
	defer m.meterMu.Unlock()
	if m.hpsAt.IsZero() || m.cfg.Clock().Sub(m.hpsAt) > 2*m.cfg.MeterWindow {
		return 0
	}
	return int64(m.hps)
}

// LastTemplate returns the size and registration count of the last block
// template (getmininginfo's currentblocksize and currentblocktx): 1000
// bytes reserved for header and coinbase plus the registrations' sizes,
// as twisterd counts them.
func (m *Miner) LastTemplate() (size, txs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastSize, m.lastTx
}

// BlocksMined returns how many blocks this Miner has mined and connected.
func (m *Miner) BlocksMined() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mined
}

// SetMineOnRegistration turns on or off the development mode in which a
// block is mined as soon as the memory pool holds a registration (checked
// on Notify and every PollInterval), unless generation is running anyway.
func (m *Miner) SetMineOnRegistration(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if !on {
		if m.autoCancel != nil {
			m.autoCancel()
			m.autoCancel = nil
		}
		return
	}
	if m.autoCancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.autoCancel = cancel
	m.wg.Add(1)
	go m.autoLoop(ctx)
}

// MineOnRegistration tells whether the mine-on-registration mode is on.
func (m *Miner) MineOnRegistration() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.autoCancel != nil
}

// Notify tells the mine-on-registration mode that the memory pool changed
// (suitable for Config.OnTxAccepted).
func (m *Miner) Notify() {
	select {
	case m.notifyCh <- struct{}{}:
	default:
	}
}

// MineBlocks mines n blocks synchronously, whatever the generate flag,
// and returns their hashes.
func (m *Miner) MineBlocks(ctx context.Context, n int) ([]consensus.Hash, error) {
	var out []consensus.Hash
	for range n {
		b, err := m.mineBlock(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, b.Hash())
	}
	return out, nil
}

// Close stops every worker and waits for them.
func (m *Miner) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
}

func (m *Miner) worker(ctx context.Context, once bool) {
	defer func() {
		m.mu.Lock()
		m.running--
		if m.running == 0 {
			close(m.idle)
		}
		m.mu.Unlock()
		m.wg.Done()
	}()
	for ctx.Err() == nil {
		if !m.regtest && m.cfg.Peers != nil && m.cfg.Peers() == 0 {
			// Do not mine on an obsolete chain before we have a peer.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if _, err := m.mineBlock(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("p2p: mining failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if once {
			return
		}
	}
}

func (m *Miner) autoLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.notifyCh:
		}
		for ctx.Err() == nil && m.chain.MempoolSize() > 0 {
			m.mu.Lock()
			busy := m.running > 0 && (!m.regtest || m.cfg.Continuous)
			m.mu.Unlock()
			if busy {
				break
			}
			if _, err := m.mineBlock(ctx); err != nil {
				if ctx.Err() == nil {
					m.log.Warn("p2p: mining a registration failed", "err", err)
				}
				break
			}
		}
	}
}

// template builds the next block with the promoted message, falling back
// to "nobody" when the user cannot sign.
func (m *Miner) template() (*consensus.Block, error) {
	m.mu.Lock()
	user, key, msg := m.user, m.key, m.msg
	m.mu.Unlock()
	b, err := m.chain.NewBlockTemplate(user, key, msg)
	if err != nil && user != "" && user != consensus.NobodyUser {
		m.log.Info("p2p: promoted message user cannot sign, mining as nobody", "user", user, "err", err)
		b, err = m.chain.NewBlockTemplate(consensus.NobodyUser, nil, msg)
	}
	if err != nil {
		return nil, err
	}
	size := 1000
	for _, tx := range b.Txs[1:] {
		size += tx.SerializeSize()
	}
	m.mu.Lock()
	m.lastSize, m.lastTx = size, len(b.Txs)-1
	m.mu.Unlock()
	return b, nil
}

// mineBlock assembles, solves, connects and broadcasts one block, starting
// over when the tip moves or, after a minute, when the memory pool changed.
func (m *Miner) mineBlock(ctx context.Context) (*consensus.Block, error) {
	for {
		b, err := m.template()
		if err != nil {
			return nil, err
		}
		solved, err := m.solve(ctx, b)
		if err != nil {
			return nil, err
		}
		if !solved {
			continue
		}
		// Submit under a lock so that concurrent workers do not build
		// siblings: a block whose parent is no longer the tip is stale
		// (CheckWork) and the worker starts over.
		h := b.Hash()
		m.submitMu.Lock()
		stale := m.chain.Tip().Hash != b.Header.PrevBlock
		if !stale {
			if _, err := m.chain.ProcessBlock(b); err != nil {
				m.submitMu.Unlock()
				return nil, fmt.Errorf("p2p: mined block refused: %w", err)
			}
			stale = m.chain.Tip().Hash != h
		}
		m.submitMu.Unlock()
		if stale {
			m.log.Debug("p2p: mined block is stale", "block", h)
			continue
		}
		m.mu.Lock()
		m.mined++
		m.mu.Unlock()
		m.log.Info("p2p: mined block", "block", h, "height", b.Header.Height, "txs", len(b.Txs))
		if m.cfg.Broadcast != nil {
			m.cfg.Broadcast(h)
		}
		return b, nil
	}
}

// solve grinds b's nonce (raising the coinbase extra nonce when the nonce
// space is used up). It returns false when the template went stale.
func (m *Miner) solve(ctx context.Context, b *consensus.Block) (bool, error) {
	target := consensus.CompactToTarget(b.Header.Bits)
	if target.Sign() <= 0 || target.Cmp(m.params.PowLimit) > 0 {
		return false, fmt.Errorf("p2p: template bits %08x outside the target range", b.Header.Bits)
	}
	var tgt [32]byte // little-endian
	target.FillBytes(tgt[:])
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		tgt[i], tgt[j] = tgt[j], tgt[i]
	}
	start := m.cfg.Clock()
	pool := m.chain.MempoolSize()
	extra := uint32(1) // NewBlockTemplate's
	hdr := b.Header.Serialize()
	for {
		for i := range 256 {
			h := consensus.ScryptHash(hdr[:])
			if leLessEq(h, tgt) {
				b.Header.Nonce = leUint32(hdr[80:])
				m.meter(int64(i + 1))
				return true, nil
			}
			nonce := leUint32(hdr[80:]) + 1
			if nonce >= 0xffff0000 {
				extra++
				consensus.SetExtraNonce(b.Txs[0], extra)
				b.Header.MerkleRoot = b.ComputeMerkleRoot()
				b.Header.Nonce = 0
				hdr = b.Header.Serialize()
				continue
			}
			hdr[80], hdr[81], hdr[82], hdr[83] = byte(nonce), byte(nonce>>8), byte(nonce>>16), byte(nonce>>24)
		}
		m.meter(256)
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if m.chain.Tip().Hash != b.Header.PrevBlock {
			return false, nil
		}
		if m.cfg.Clock().Sub(start) > time.Minute && m.chain.MempoolSize() != pool {
			return false, nil
		}
	}
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// leLessEq compares two little-endian 256-bit numbers: h ≤ t.
func leLessEq(h consensus.Hash, t [32]byte) bool {
	for i := 31; i >= 0; i-- {
		if h[i] != t[i] {
			return h[i] < t[i]
		}
	}
	return true
}

// meter adds hashes to the hash-rate window.
func (m *Miner) meter(k int64) {
	now := m.cfg.Clock()
	m.meterMu.Lock()
	defer m.meterMu.Unlock()
	if m.meterStart.IsZero() || now.Sub(m.meterStart) > 2*m.cfg.MeterWindow {
		// First hashes, or after an idle spell: start a new window.
		m.meterStart, m.meterCount = now, 0
	}
	m.meterCount += k
	if el := now.Sub(m.meterStart); el >= m.cfg.MeterWindow {
		m.hps = float64(m.meterCount) / el.Seconds()
		m.hpsAt = now
		m.meterStart, m.meterCount = now, 0
	}
}
