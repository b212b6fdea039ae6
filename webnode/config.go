package webnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/swarm"
)

// Bridge is what the node needs from its bridges: DHT operations that
// return items exactly as signed, puts of items signed here, swarm peer
// lookups, headers and user proofs for the light client, and relayed swarm
// streams in both directions. *client.Pool implements it (failing over
// between several bridges); tests substitute doubles that lie. Nothing a
// Bridge returns is trusted: the node checks every header, proof, item and
// post itself.
type Bridge interface {
	GetData(ctx context.Context, name, res string, multi bool, o client.GetOptions) ([]client.Item, error)
	PutData(ctx context.Context, p, sigP []byte, sigUser string) (queued bool, err error)
	GetPeers(ctx context.Context, user string) ([]netip.AddrPort, error)
	Headers(ctx context.Context, from int64, count int) (headers [][]byte, tip int64, err error)
	ProveUser(ctx context.Context, name string) ([]byte, error)
	// Dial opens a relayed stream to a native swarm peer (swarm.Dialer).
	Dial(ctx context.Context, addr string) (net.Conn, error)
	// Serve has the bridge accept native peers for user's swarm and
	// announce itself for it in the DHT; they arrive on Listener.
	Serve(ctx context.Context, user string) error
	Unserve(ctx context.Context, user string) error
	Listener() net.Listener
	Close() error
}

var _ Bridge = (*client.Pool)(nil)

// Store keeps the node's posts (a swarm.PostStore; only posts that passed
// validation are ever written) and a small key-value map for the follow
// list, cached profiles, user proofs and block headers. Implementations
// must be safe for concurrent use. MemStore is the in-memory one; IDBStore
// (js/wasm only) keeps both in IndexedDB.
type Store interface {
	swarm.PostStore
	// GetKV returns the value of key; ok is false if there is none.
	GetKV(key string) (val []byte, ok bool, err error)
	// PutKV sets key to val (durably when it returns).
	PutKV(key string, val []byte) error
	// DeleteKV removes key (no error if absent).
	DeleteKV(key string) error
}

// Clock tells the time; tests may inject a fake one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Signer holds the logged-in user's key: it signs posts and DHT items and
// opens direct messages, so the node never needs the key itself. KeySigner
// keeps a key in memory; a key store (encrypted at rest, or held by the
// page) is a separate piece of work and can implement this interface.
type Signer interface {
	// User is the username the key belongs to.
	User() string
	// PubKey is the public key (checked against the chain at login).
	PubKey() keys.PubKey
	// Sign returns the 65-byte compact signature of msg (over
	// keys.MagicHash(msg)).
	Sign(msg []byte) []byte
	// Decrypt opens a message sealed to PubKey.
	Decrypt(s dm.Sealed) ([]byte, error)
}

// KeySigner is a Signer over a private key held in memory (the worker's
// heap). It is what Login uses; the key is gone when the worker ends.
type KeySigner struct {
	Name string
	Key  *keys.PrivateKey
}

// NewKeySigner parses a 52-character WIF secret key for user.
func NewKeySigner(user, secret string) (*KeySigner, error) {
	k, err := keys.ParseSecret(strings.TrimSpace(secret))
	if err != nil {
		return nil, fmt.Errorf("webnode: bad secret key: %w", err)
	}
	return &KeySigner{Name: user, Key: k}, nil
}

// User implements Signer.
func (s *KeySigner) User() string { return s.Name }

// PubKey implements Signer.
func (s *KeySigner) PubKey() keys.PubKey { return s.Key.PubKey() }

// Sign implements Signer.
func (s *KeySigner) Sign(msg []byte) []byte { return s.Key.Sign(msg) }

// Decrypt implements Signer.
func (s *KeySigner) Decrypt(sl dm.Sealed) ([]byte, error) { return dm.Decrypt(s.Key, sl) }

// Config configures a Node. Zero fields take the defaults documented.
type Config struct {
	// Bridges are the bridge URLs (ws:// or wss://), tried in order with
	// failover. Required unless Bridge is set.
	Bridges []string
	// Bridge, if set, is used instead of a pool over Bridges (tests).
	Bridge Bridge
	// Store keeps posts and node state; nil means a new MemStore.
	Store Store
	// Clock is the time source; nil means the system clock.
	Clock Clock
	// Params selects the network; nil means consensus.Mainnet. The light
	// client starts from Params.LightCheckpoint.
	Params *consensus.Params
	// Signaling is the WebRTC signaling server's URL (ws://…/signal, see
	// package signaling). Required when EnableWebRTC is set.
	Signaling string
	// EnableWebRTC adds browser-to-browser data channels as a second swarm
	// transport: the node joins the signaling room of every swarm it runs
	// (the swarm's info-hash in hex) and connects to the browsers it meets
	// there; their addresses in the swarm are "webrtc/<peer id>".
	EnableWebRTC bool
	// ICEServers are STUN/TURN URLs for WebRTC; none by default (host
	// candidates only: enough on one machine or one LAN).
	ICEServers []string
	// ICETimeout bounds how long a WebRTC connection may take to connect;
	// default 20 s.
	ICETimeout time.Duration
	// WebRTCLoopback (native builds only; ignored in browsers) gathers
	// only UDP4 loopback host candidates with mDNS off, so that two
	// native nodes on one machine connect without any other interface.
	WebRTCLoopback bool
	// SwarmLimits tune the swarm engine; zero fields take the browser
	// defaults (24 connections, 6 peers per user) and then swarm's own.
	SwarmLimits swarm.Limits
	// HeaderSyncInterval is how often new block headers are fetched;
	// default 1 minute.
	HeaderSyncInterval time.Duration
	// KeyTTL is how long a verified key history is used before its proof
	// is fetched again (to see key replacements); default 1 hour.
	KeyTTL time.Duration
	// RequestTimeout bounds each bridge request made on the node's own
	// behalf (header sync, proofs during validation); default 20 s.
	RequestTimeout time.Duration
	// OnEvent receives events (new posts, direct messages, connection
	// changes). It is called from the node's goroutines and must not
	// block for long.
	OnEvent func(Event)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Event is something the page wants to hear about without asking.
type Event struct {
	// Kind is EventNewPost, EventDM, EventConnection, EventHeight or
	// another kind named where it is sent (EventFollowSync, …).
	Kind string
	// Data is a *PostView (newPost), *DMView (dm), ConnEvent
	// (connection), int64 (height) or FollowSync (followSync).
	Data any
}

// Event kinds.
const (
	EventNewPost    = "newPost"
	EventDM         = "dm"
	EventConnection = "connection"
	EventHeight     = "height"
)

// ConnEvent is a bridge connection's state change.
type ConnEvent struct {
	Bridge string `json:"bridge"`
	State  string `json:"state"` // "connecting", "connected", "disconnected"
	Error  string `json:"error,omitempty"`
}

// Errors returned by the Node.
var (
	ErrNotLoggedIn = errors.New("webnode: not logged in")
	ErrClosed      = errors.New("webnode: closed")
	ErrWrongKey    = errors.New("webnode: the key is not the user's registered key")
	ErrNotFound    = errors.New("webnode: not found")
	// ErrUnverified wraps every rejection of data from a bridge or a
	// peer: bad headers, proofs, signatures, targets or posts.
	ErrUnverified = errors.New("webnode: unverified data")
)
