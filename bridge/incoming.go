package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/resource"
	swire "github.com/gotwister/twister/swarm/wire"
)

// acceptLoop takes native peers' connections on the swarm listener.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.cfg.SwarmListener.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("bridge: swarm accept failed", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case s.hsSem <- struct{}{}:
		default:
			s.m.rejected.add(RejectHandshake, 1)
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go s.incoming(conn)
	}
}

// incoming reads a native peer's handshake and hands the connection, with
// the handshake bytes replayed, to a browser serving its info-hash.
func (s *Server) incoming(conn net.Conn) {
	defer s.wg.Done()
	hs := make([]byte, swire.HandshakeLen)
	conn.SetReadDeadline(time.Now().Add(s.lim.HandshakeTimeout))
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	_, err := io.ReadFull(conn, hs[:len(handshakePrefix)])
	if err == nil && string(hs[:len(handshakePrefix)]) != string(handshakePrefix) {
		err = errors.New("not a twister handshake")
	}
	if err == nil {
		_, err = io.ReadFull(conn, hs[len(handshakePrefix):])
	}
	var h swire.Handshake
	if err == nil {
		h, err = swire.ParseHandshake(hs)
	}
	<-s.hsSem
	if !stop() || err != nil {
		if err != nil {
			s.m.incoming.add(incomingBad, 1)
			s.log.Debug("bridge: bad inbound handshake", "remote", conn.RemoteAddr(), "err", err)
		}
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	ih := resource.Target(h.InfoHash)
	for range 3 { // a browser may vanish between choosing and sending
		ss, st, result := s.pickServer(ih, conn)
		if ss == nil {
			s.m.incoming.add(result, 1)
			conn.Close()
			return
		}
		err := ss.send(wire.Notice(wire.NoticeIncoming, wire.Dict("s", st.id, "h", ih[:], "remote", conn.RemoteAddr().String())))
		if err == nil {
			st.mu.Lock()
			st.sendCredit -= len(hs)
			st.mu.Unlock()
			err = ss.writeFrame(wire.AppendData(nil, st.id, hs))
		}
		if err != nil {
			st.mu.Lock()
			st.conn = nil // keep the native connection for the next browser
			st.mu.Unlock()
			st.shutdown(nil, false)
			continue
		}
		s.m.incoming.add(incomingHanded, 1)
		s.m.streamsIn.Add(1)
		s.m.streamsInTotal.Add(1)
		s.m.streamBytesDown.Add(uint64(len(hs)))
		st.start()
		return
	}
	s.m.incoming.add(incomingNoCapacit, 1)
	conn.Close()
}

// pickServer chooses, round-robin, a session serving ih with room for a
// stream and registers an incoming stream for conn in it.
func (s *Server) pickServer(ih resource.Target, conn net.Conn) (*session, *stream, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.served[ih]
	if sv == nil || len(sv.sessions) == 0 {
		return nil, nil, incomingUnserved
	}
	for i := range len(sv.sessions) {
		ss := sv.sessions[(sv.next+i)%len(sv.sessions)]
		ss.mu.Lock()
		if ss.done || len(ss.streams) >= s.lim.MaxStreams {
			ss.mu.Unlock()
			continue
		}
		ss.nextIn += 2
		st := newStream(ss, ss.nextIn, true)
		st.conn = conn
		if ss.streams == nil {
			ss.streams = map[uint32]*stream{}
		}
		ss.streams[st.id] = st
		ss.mu.Unlock()
		sv.next = (sv.next + i + 1) % len(sv.sessions)
		return ss, st, ""
	}
	s.m.rejected.add(RejectStreams, 1)
	return nil, nil, incomingNoCapacit
}

// serveTarget reads h and/or n of serve and unserve.
func serveTarget(a *wire.Args) (resource.Target, string, error) {
	h := a.Hash20("h", false)
	n := a.Str("n", false)
	if err := a.Err(); err != nil {
		return h, n, err
	}
	if n != "" {
		ih := resource.InfoHash(n)
		if a.Has("h") && h != [20]byte(ih) {
			return h, n, fmt.Errorf("h is not the info-hash of %q", n)
		}
		return ih, n, nil
	}
	if !a.Has("h") {
		return h, n, errors.New("give h (a 20-byte info-hash) or n (a user name)")
	}
	return h, n, nil
}

func (ss *session) opServe(m *wire.Msg, a *wire.Args) {
	s := ss.s
	if s.cfg.SwarmListener == nil {
		ss.fail(m, wire.CodeUnavailable, "this bridge accepts no incoming swarm connections")
		return
	}
	ih, name, err := serveTarget(a)
	if err != nil {
		ss.fail(m, wire.CodeBadRequest, err.Error())
		return
	}
	ss.mu.Lock()
	if ss.done {
		ss.mu.Unlock()
		return
	}
	if _, ok := ss.serves[ih]; !ok && len(ss.serves) >= s.lim.MaxServes {
		ss.mu.Unlock()
		s.m.rejected.add(RejectServes, 1)
		ss.fail(m, wire.CodeLimit, fmt.Sprintf("more than %d served swarms", s.lim.MaxServes))
		return
	}
	if ss.serves == nil {
		ss.serves = map[resource.Target]struct{}{}
	}
	ss.serves[ih] = struct{}{}
	ss.mu.Unlock()

	s.mu.Lock()
	sv := s.served[ih]
	if sv == nil {
		sv = &served{}
		s.served[ih] = sv
	}
	if !slices.Contains(sv.sessions, ss) {
		sv.sessions = append(sv.sessions, ss)
	}
	if sv.name == "" {
		sv.name = name
	}
	due := s.announceDue(sv, s.clock.Now())
	if due {
		sv.announcing = true
	}
	s.mu.Unlock()
	if due {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(s.ctx, s.lim.MaxLookupTimeout)
			s.announceNow(ctx, ih, sv.name)
			cancel()
		}()
	}
	ss.reply(m, wire.Dict("port", s.annPort))
}

func (ss *session) opUnserve(m *wire.Msg, a *wire.Args) {
	ih, _, err := serveTarget(a)
	if err != nil {
		ss.fail(m, wire.CodeBadRequest, err.Error())
		return
	}
	ss.mu.Lock()
	_, ok := ss.serves[ih]
	delete(ss.serves, ih)
	ss.mu.Unlock()
	if ok {
		ss.s.unserveAll(ss, map[resource.Target]struct{}{ih: {}})
	}
	ss.reply(m, wire.Dict())
}

// unserveAll removes ss from the given served info-hashes.
func (s *Server) unserveAll(ss *session, hashes map[resource.Target]struct{}) {
	if len(hashes) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ih := range hashes {
		sv := s.served[ih]
		if sv == nil {
			continue
		}
		if i := slices.Index(sv.sessions, ss); i >= 0 {
			sv.sessions = slices.Delete(sv.sessions, i, i+1)
		}
		if len(sv.sessions) == 0 {
			delete(s.served, ih)
		}
	}
}

// announceDue says whether sv should be announced now. s.mu held.
func (s *Server) announceDue(sv *served, now time.Time) bool {
	if s.cfg.DHT == nil || sv.name == "" || sv.announcing || s.annPort == 0 {
		return false
	}
	if !sv.announced.IsZero() {
		return now.Sub(sv.announced) >= s.cfg.AnnounceInterval
	}
	return sv.tried.IsZero() || now.Sub(sv.tried) >= min(time.Minute, s.cfg.AnnounceInterval)
}

// announceNow announces the bridge's swarm port for name's swarm in the DHT.
func (s *Server) announceNow(ctx context.Context, ih resource.Target, name string) error {
	err := s.cfg.DHT.Announce(ctx, ih, name, s.annPort)
	s.m.announces.Add(1)
	now := s.clock.Now()
	s.mu.Lock()
	if sv := s.served[ih]; sv != nil {
		sv.announcing = false
		sv.tried = now
		if err == nil {
			sv.announced = now
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.m.announceErrors.Add(1)
		s.log.Debug("bridge: announce failed", "user", name, "err", err)
	}
	return err
}

// announceLoop re-announces served swarms every AnnounceInterval, a few at
// a time.
func (s *Server) announceLoop() {
	defer s.wg.Done()
	period := min(max(s.cfg.AnnounceInterval/10, 100*time.Millisecond), time.Minute)
	t := time.NewTicker(period)
	defer t.Stop()
	sem := make(chan struct{}, 8)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		type job struct {
			ih   resource.Target
			name string
		}
		var jobs []job
		now := s.clock.Now()
		s.mu.Lock()
		for ih, sv := range s.served {
			if s.announceDue(sv, now) {
				sv.announcing = true
				jobs = append(jobs, job{ih, sv.name})
			}
		}
		s.mu.Unlock()
		for _, j := range jobs {
			select {
			case sem <- struct{}{}:
			case <-s.ctx.Done():
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(s.ctx, s.lim.MaxLookupTimeout)
				s.announceNow(ctx, j.ih, j.name)
				cancel()
			}()
		}
	}
}
