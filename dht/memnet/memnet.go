// Package memnet is an in-memory datagram network for tests and
// simulations of the DHT: each Conn behaves like an unconnected UDP socket
// bound to one address, with configurable latency, jitter and packet loss,
// and nodes can be cut off and reconnected. It satisfies dht.PacketConn
// and works inside testing/synctest bubbles (all waiting is on channels
// and timers), so a simulation can run in virtual time.
package memnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Network connects Conns by address.
type Network struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*Conn
	rnd   *rand.Rand
	cfg   Config

	sent, delivered, lost int64
}

// Config sets the network's behaviour.
type Config struct {
	Latency  time.Duration // one-way delay of every datagram
	Jitter   time.Duration // extra uniform random delay in [0, Jitter)
	DropRate float64       // probability a datagram is lost
	Seed     uint64        // random seed; 0 picks 1
	// QueueLen is how many datagrams a Conn buffers before dropping (like
	// a socket buffer); default 512.
	QueueLen int
}

// New returns an empty network.
func New(cfg Config) *Network {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 512
	}
	return &Network{conns: map[netip.AddrPort]*Conn{}, cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

// ErrAddrInUse is returned by Listen for an address already bound.
var ErrAddrInUse = errors.New("memnet: address already in use")

// Listen binds a Conn to addr.
func (n *Network) Listen(addr netip.AddrPort) (*Conn, error) {
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("memnet: cannot bind %v", addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.conns[addr]; ok {
		return nil, ErrAddrInUse
	}
	c := &Conn{net: n, addr: addr, queue: make(chan packet, n.cfg.QueueLen), closed: make(chan struct{}), deadlineCh: make(chan struct{})}
	n.conns[addr] = c
	return c, nil
}

// Stats returns datagrams sent, delivered and lost (dropped, queue full
// or no listener).
func (n *Network) Stats() (sent, delivered, lost int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent, n.delivered, n.lost
}

type packet struct {
	b    []byte
	from netip.AddrPort
}

func (n *Network) deliver(to netip.AddrPort, p packet) {
	n.mu.Lock()
	c, ok := n.conns[to]
	if !ok {
		n.lost++
		n.mu.Unlock()
		return
	}
	select {
	case c.queue <- p:
		n.delivered++
	default:
		n.lost++
	}
	n.mu.Unlock()
}

func (n *Network) send(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	n.sent++
	if n.cfg.DropRate > 0 && n.rnd.Float64() < n.cfg.DropRate {
		n.lost++
		n.mu.Unlock()
		return
	}
	delay := n.cfg.Latency
	if n.cfg.Jitter > 0 {
		delay += time.Duration(n.rnd.Int64N(int64(n.cfg.Jitter)))
	}
	n.mu.Unlock()
	p := packet{b: append([]byte(nil), b...), from: from}
	if delay <= 0 {
		n.deliver(to, p)
		return
	}
	time.AfterFunc(delay, func() { n.deliver(to, p) })
}

// Conn is one bound address on a Network.
type Conn struct {
	net   *Network
	addr  netip.AddrPort
	queue chan packet

	mu         sync.Mutex
	closed     chan struct{}
	isClosed   bool
	deadline   time.Time
	deadlineCh chan struct{} // closed and replaced when the deadline changes
}

// ReadFrom waits for the next datagram.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, dch := c.deadline, c.deadlineCh
		c.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			timeout = t.C
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case pk := <-c.queue:
			stop()
			n := copy(p, pk.b)
			return n, net.UDPAddrFromAddrPort(pk.from), nil
		case <-c.closed:
			stop()
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-dch:
			stop() // deadline changed; look again
		}
	}
}

// WriteTo sends a datagram to addr (a *net.UDPAddr or "ip:port").
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	closed := c.isClosed
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	var to netip.AddrPort
	if u, ok := addr.(*net.UDPAddr); ok {
		to = u.AddrPort()
	} else {
		var err error
		if to, err = netip.ParseAddrPort(addr.String()); err != nil {
			return 0, fmt.Errorf("memnet: bad address %v", addr)
		}
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	c.net.send(c.addr, to, p)
	return len(p), nil
}

// LocalAddr returns the bound address as a *net.UDPAddr.
func (c *Conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// AddrPort returns the bound address.
func (c *Conn) AddrPort() netip.AddrPort { return c.addr }

// Close unbinds the address; pending and later datagrams to it are lost.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed {
		return net.ErrClosed
	}
	c.isClosed = true
	close(c.closed)
	c.net.mu.Lock()
	if c.net.conns[c.addr] == c {
		delete(c.net.conns, c.addr)
	}
	c.net.mu.Unlock()
	return nil
}

// SetReadDeadline sets when a blocked ReadFrom gives up; zero means never.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.deadlineCh)
	c.deadlineCh = make(chan struct{})
	return nil
}
