//go:build !js

package webnode

import (
	"encoding/json"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// newRTCPeer makes a pion PeerConnection.
func newRTCPeer(o rtcOptions) (rtcPeer, error) {
	var se webrtc.SettingEngine
	if o.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	var cfg webrtc.Configuration
	if len(o.ICEServers) > 0 {
		cfg.ICEServers = []webrtc.ICEServer{{URLs: o.ICEServers}}
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	return &pionPeer{pc: pc}, nil
}

type pionPeer struct{ pc *webrtc.PeerConnection }

func (p *pionPeer) CreateDataChannel(label string) (rtcChannel, error) {
	ordered := true
	dc, err := p.pc.CreateDataChannel(label, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return nil, err
	}
	return pionChannel{dc}, nil
}

func (p *pionPeer) Offer() (string, error) {
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	return o.SDP, nil
}

func (p *pionPeer) Answer(offer string) (string, error) {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	a, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	if err := p.pc.SetLocalDescription(a); err != nil {
		return "", err
	}
	return a.SDP, nil
}

func (p *pionPeer) SetAnswer(sdp string) error {
	return p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

func (p *pionPeer) AddCandidate(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	return p.pc.AddICECandidate(c)
}

func (p *pionPeer) OnCandidate(f func(json.RawMessage)) {
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			f(nil)
			return
		}
		if b, err := json.Marshal(c.ToJSON()); err == nil {
			f(b)
		}
	})
}

func (p *pionPeer) OnDataChannel(f func(rtcChannel)) {
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) { f(pionChannel{dc}) })
}

func (p *pionPeer) OnState(f func(string)) {
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { f(s.String()) })
}

func (p *pionPeer) Close() error { return p.pc.Close() }

type pionChannel struct{ dc *webrtc.DataChannel }

func (c pionChannel) Send(b []byte) error                    { return c.dc.Send(b) }
func (c pionChannel) BufferedAmount() uint64                 { return c.dc.BufferedAmount() }
func (c pionChannel) SetBufferedAmountLowThreshold(n uint64) { c.dc.SetBufferedAmountLowThreshold(n) }
func (c pionChannel) OnBufferedAmountLow(f func())           { c.dc.OnBufferedAmountLow(f) }
func (c pionChannel) OnOpen(f func())                        { c.dc.OnOpen(f) }
func (c pionChannel) OnClose(f func())                       { c.dc.OnClose(f) }
func (c pionChannel) Close() error                           { return c.dc.Close() }
func (c pionChannel) OnMessage(f func([]byte)) {
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) { f(m.Data) })
}
