package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm/wire"
)

// ErrPeekRejected is returned by Peek when the peer refuses the request.
var ErrPeekRejected = errors.New("swarm: peer rejected the peek request")

// Peek fetches post k of user from the peer at addr without joining the
// swarm: twister's PEEK extension (§4.7). The peer sends hashcash_nbits;
// if it keeps us choked we solve the hashcash for piece k and send the nonce,
// which authorises the request. The post is checked with Config.Validate
// and returned; it is not stored. ctx bounds the whole exchange.
func (s *Swarm) Peek(ctx context.Context, user string, k int64, addr string) ([]byte, error) {
	if k < 0 || k > maxIndex {
		return nil, fmt.Errorf("swarm: post number %d out of range", k)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	conn, err := s.cfg.Dialer.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("swarm: peek dial %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ih := resource.InfoHash(user)
	// A fresh peer id per peek, so that a peek never collides with (and
	// is refused as a duplicate of) another connection of ours.
	if err := wire.WriteHandshake(conn, wire.Handshake{Reserved: wire.DefaultReserved, InfoHash: ih, PeerID: wire.NewPeerID()}); err != nil {
		return nil, fmt.Errorf("swarm: peek: %w", err)
	}
	hs, err := wire.ReadHandshake(conn)
	if err != nil {
		return nil, fmt.Errorf("swarm: peek: %w", err)
	}
	if hs.InfoHash != ih {
		return nil, fmt.Errorf("swarm: peek: peer answered for info-hash %x", hs.InfoHash)
	}
	piece := uint32(k)
	var out []byte
	out = wire.AppendMessage(out, wire.ExtHandshake{M: map[string]int64{}, Version: s.cfg.Version}.Message())
	if hs.Reserved.Fast() {
		out = wire.AppendMessage(out, wire.MsgSimple(wire.HaveNone))
	}
	out = wire.AppendMessage(out, wire.MsgSimple(wire.Interested))
	if _, err := conn.Write(out); err != nil {
		return nil, fmt.Errorf("swarm: peek: %w", err)
	}
	br := bufio.NewReader(conn)
	choked, requested, nonceSent := true, false, false
	request := func() error {
		requested = true
		return wire.WriteMessage(conn, wire.MsgRequest(piece))
	}
	for {
		m, err := wire.ReadMessage(br, s.lim.Wire)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("swarm: peek post %d of %q at %s: %w", k, user, addr, ctx.Err())
			}
			return nil, fmt.Errorf("swarm: peek: %w", err)
		}
		switch m.ID {
		case wire.Unchoke:
			choked = false
		case wire.Choke:
			choked = true
		case wire.HashcashNBits:
			if choked && !nonceSent && hs.Reserved.Peek() {
				nonce, err := wire.SolveHashcash(ctx, ih, piece, m.NBits)
				if err != nil {
					return nil, fmt.Errorf("swarm: peek: %w", err)
				}
				if err := wire.WriteMessage(conn, wire.Message{ID: wire.HashcashNonce, Payload: nonce}); err != nil {
					return nil, fmt.Errorf("swarm: peek: %w", err)
				}
				nonceSent = true
			}
		case wire.RejectRequest:
			if m.Index == piece && requested {
				return nil, ErrPeekRejected
			}
		case wire.Piece:
			if m.Index != piece || m.Begin != 0 || !requested {
				continue
			}
			if err := s.cfg.Validate(user, k, m.Payload); err != nil {
				return nil, fmt.Errorf("swarm: peeked post %d of %q rejected: %w", k, user, err)
			}
			return m.Payload, nil
		}
		if !requested && (!choked || nonceSent) {
			if err := request(); err != nil {
				return nil, fmt.Errorf("swarm: peek: %w", err)
			}
		}
	}
}
