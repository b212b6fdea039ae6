// Package chain is the full node's copy of twister's username block chain:
// it validates blocks with package consensus, stores them in a bbolt file
// (block index, blocks, best chain and every username's key history, each
// change of the best chain in one bbolt transaction so a crash leaves a
// consistent store), keeps orphan blocks until their parent arrives,
// reorganises to the branch with the most work, holds a memory pool of
// registrations, mines blocks and answers what the P2P sync, the JSON-RPC
// server and the DHT ask.
//
// Opening: Open(dir, consensus.Mainnet or consensus.Regtest, options such
// as WithClock for the adjusted network time) and Close.
//
// Blocks: ProcessBlock (a refusal is a *consensus.RuleError whose Reason
// errors.Is matches; orphan reports a block waiting for its parent, whose
// missing ancestors start at OrphanRoot), HaveBlock, IsOrphan,
// Subscribe for tip changes.
//
// Reading: Tip, Height, BlockInfo, HashByHeight, HeaderByHeight,
// HeaderByHash, BlockByHash, BlockByHeight, RawBlock, Locator,
// HashesAfter / HeadersAfter (getblocks, getheaders), NextBits,
// MedianTimePast, CheckConsistency.
//
// Usernames: KeyAt (a keys.Resolver: the key valid at a height, §1.5),
// KeyHistory, RegistrationHeight, RegistrationTx, UserExists,
// ListUsernames, UsernameToTxNum / TxNumToUsername (global transaction
// numbers, §2.11) and ProveUser (proofs for package light).
//
// Transactions and mining: AcceptTx, MempoolTxs, MempoolTx, MempoolSize,
// NewBlockTemplate and MineBlock (assemble, grind the scrypt proof of work,
// submit; cancellable).
package chain
