//go:build !js

package signaling

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// rtcPeer is one side of the end-to-end test: a pion PeerConnection whose
// offers, answers and trickled candidates travel through a signaling Client.
type rtcPeer struct {
	t     *testing.T
	name  string
	sig   *Client
	pc    *webrtc.PeerConnection
	swarm string

	mu        sync.Mutex
	remote    string // peer id of the other side, once known
	remoteSet bool
	pending   []webrtc.ICECandidateInit

	sentCandidates atomic.Int32
	gotCandidates  atomic.Int32
	received       chan string
	failed         chan error
}

func newRTCPeer(t *testing.T, name string, sig *Client, swarm string) *rtcPeer {
	// Host candidates on UDP4 loopback only: no STUN, no mDNS, nothing
	// leaves 127.0.0.1.
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	p := &rtcPeer{t: t, name: name, sig: sig, pc: pc, swarm: swarm,
		received: make(chan string, 4), failed: make(chan error, 4)}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return // gathering complete; trickle needs no end marker here
		}
		p.mu.Lock()
		to := p.remote
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sig.SendCandidate(ctx, swarm, to, c.ToJSON()); err != nil {
			p.fail(fmt.Errorf("sending candidate: %w", err))
			return
		}
		p.sentCandidates.Add(1)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed {
			p.fail(fmt.Errorf("peer connection failed"))
		}
	})
	return p
}

func (p *rtcPeer) fail(err error) {
	select {
	case p.failed <- fmt.Errorf("%s: %w", p.name, err):
	default:
	}
}

func (p *rtcPeer) setRemote(id string) {
	p.mu.Lock()
	p.remote = id
	p.mu.Unlock()
}

// applyRemote sets the remote description and adds candidates that arrived
// before it.
func (p *rtcPeer) applyRemote(sd webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(sd); err != nil {
		return err
	}
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.remoteSet = true
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			return err
		}
	}
	return nil
}

func (p *rtcPeer) addCandidate(raw json.RawMessage) error {
	p.gotCandidates.Add(1)
	if string(raw) == "null" || len(raw) == 0 {
		return nil
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	p.mu.Lock()
	if !p.remoteSet {
		p.pending = append(p.pending, c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.pc.AddICECandidate(c)
}

// serve handles frames from the signaling server until ctx ends.
func (p *rtcPeer) serve(ctx context.Context) {
	for {
		f, err := p.sig.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.fail(err)
			}
			return
		}
		if err := p.handle(ctx, f); err != nil {
			p.fail(err)
			return
		}
	}
}

func (p *rtcPeer) handle(ctx context.Context, f Frame) error {
	switch f.Type {
	case TypeSignal:
		switch f.Kind {
		case KindOffer:
			p.setRemote(f.From)
			if err := p.applyRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: f.SDP}); err != nil {
				return fmt.Errorf("applying offer: %w", err)
			}
			answer, err := p.pc.CreateAnswer(nil)
			if err != nil {
				return err
			}
			if err := p.pc.SetLocalDescription(answer); err != nil {
				return err
			}
			return p.sig.SendSDP(ctx, p.swarm, f.From, KindAnswer, answer.SDP)
		case KindAnswer:
			return p.applyRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: f.SDP})
		case KindCandidate:
			return p.addCandidate(f.Candidate)
		}
	case TypeError:
		return fmt.Errorf("server error: %s", f.Message)
	}
	return nil // joined/left notices
}

// TestWebRTCEndToEnd: two pion peers find each other through the server,
// exchange offer, answer and trickled ICE candidates, open a data channel
// and exchange a message both ways.
func TestWebRTCEndToEnd(t *testing.T) {
	ts := startServer(t, Config{})
	swarm := userSwarm("gotest")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sigA, sigB := dial(t, ts), dial(t, ts)
	a := newRTCPeer(t, "A", sigA, swarm)
	b := newRTCPeer(t, "B", sigB, swarm)

	// A answers whoever offers.
	a.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			a.received <- string(m.Data)
			if err := dc.SendText("pong from A"); err != nil {
				a.fail(err)
			}
		})
	})
	if peers := join(t, sigA, swarm); len(peers) != 0 {
		t.Fatalf("A sees %v", peers)
	}
	go a.serve(ctx)

	// B joins, finds A and, as the newcomer, offers.
	peers := join(t, sigB, swarm)
	if len(peers) != 1 || peers[0] != sigA.ID() {
		t.Fatalf("B sees %v, want [%s]", peers, sigA.ID())
	}
	b.setRemote(peers[0])
	dc, err := b.pc.CreateDataChannel("twister", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() {
		if err := dc.SendText("ping from B"); err != nil {
			b.fail(err)
		}
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) { b.received <- string(m.Data) })
	go b.serve(ctx)
	offer, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	// The offer as created carries no candidates: they all trickle.
	if err := sigB.SendSDP(ctx, swarm, peers[0], KindOffer, offer.SDP); err != nil {
		t.Fatal(err)
	}

	want := map[*rtcPeer]string{a: "ping from B", b: "pong from A"}
	for len(want) > 0 {
		select {
		case m := <-a.received:
			if m != want[a] {
				t.Fatalf("A got %q", m)
			}
			delete(want, a)
		case m := <-b.received:
			if m != want[b] {
				t.Fatalf("B got %q", m)
			}
			delete(want, b)
		case err := <-a.failed:
			t.Fatal(err)
		case err := <-b.failed:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("timed out waiting for ICE and the data channel (A %v, B %v)",
				a.pc.ICEConnectionState(), b.pc.ICEConnectionState())
		}
	}
	// Candidates trickled through the server. ICE may complete before
	// one side has sent any (the other learns it peer-reflexively), so
	// only the total is required.
	if a.sentCandidates.Load()+b.sentCandidates.Load() == 0 ||
		a.gotCandidates.Load()+b.gotCandidates.Load() == 0 {
		t.Fatalf("candidates sent A %d B %d, received A %d B %d", a.sentCandidates.Load(),
			b.sentCandidates.Load(), a.gotCandidates.Load(), b.gotCandidates.Load())
	}
	st := ts.Stats()
	if st.Relayed < 3 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("connected over %s; candidates A→B %d, B→A %d; %d signals relayed",
		pairString(a.pc), a.sentCandidates.Load(), b.sentCandidates.Load(), st.Relayed)
}

func pairString(pc *webrtc.PeerConnection) string {
	sctp := pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return "?"
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return "?"
	}
	return pair.String()
}
