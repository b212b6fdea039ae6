package bridge

import (
	"fmt"
	"io"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gotwister/twister/bridge/wire"
)

// Rejection reasons counted in twister_bridge_rejected_total{limit=...}.
const (
	RejectRate      = "rate"       // a request over the client's rate limit
	RejectStreams   = "streams"    // an open or incoming stream over MaxStreams
	RejectClients   = "clients"    // a session refused over MaxClients (HTTP 503)
	RejectFrame     = "frame"      // a message over MaxFrame, or undecodable (session closed)
	RejectOrigin    = "origin"     // a WebSocket from an origin not allowed (HTTP 403)
	RejectPending   = "pending"    // a slow request over MaxPending
	RejectServes    = "serves"     // a serve over MaxServes
	RejectIdle      = "idle"       // a session closed after IdleTimeout of silence
	RejectWindow    = "window"     // stream data beyond the flow-control window (stream closed)
	RejectDial      = "dial"       // an open refused by the dial policy
	RejectHandshake = "handshakes" // an inbound connection over MaxIncomingHandshakes
)

var rejectReasons = []string{RejectRate, RejectStreams, RejectClients, RejectFrame, RejectOrigin, RejectPending,
	RejectServes, RejectIdle, RejectWindow, RejectDial, RejectHandshake}

// Incoming outcomes counted in twister_bridge_incoming_total{result=...}.
const (
	incomingHanded    = "handed"
	incomingUnserved  = "unserved"
	incomingBad       = "bad_handshake"
	incomingNoCapacit = "no_capacity"
)

var incomingResults = []string{incomingHanded, incomingUnserved, incomingBad, incomingNoCapacit}

type counterSet struct {
	names []string
	c     []atomic.Uint64
}

func newCounterSet(names []string) *counterSet {
	return &counterSet{names: names, c: make([]atomic.Uint64, len(names))}
}

func (cs *counterSet) add(name string, n uint64) {
	i := slices.Index(cs.names, name)
	if i < 0 {
		i = len(cs.names) - 1 // "other"
	}
	cs.c[i].Add(n)
}

func (cs *counterSet) get(name string) uint64 {
	if i := slices.Index(cs.names, name); i >= 0 {
		return cs.c[i].Load()
	}
	return 0
}

type metrics struct {
	sessionsTotal   atomic.Uint64
	streamsOutTotal atomic.Uint64
	streamsInTotal  atomic.Uint64
	streamsOut      atomic.Int64
	streamsIn       atomic.Int64
	requests        *counterSet
	requestErrors   *counterSet
	rejected        *counterSet
	incoming        *counterSet
	wsBytesIn       atomic.Uint64
	wsBytesOut      atomic.Uint64
	wsFramesIn      atomic.Uint64
	wsFramesOut     atomic.Uint64
	streamBytesUp   atomic.Uint64 // browser → native
	streamBytesDown atomic.Uint64 // native → browser
	dhtErrors       atomic.Uint64
	chainErrors     atomic.Uint64
	dialFailures    atomic.Uint64
	announces       atomic.Uint64
	announceErrors  atomic.Uint64
}

func newMetrics() *metrics {
	ops := append(slices.Clone(wire.Ops), "other")
	return &metrics{
		requests:      newCounterSet(ops),
		requestErrors: newCounterSet(ops),
		rejected:      newCounterSet(append(slices.Clone(rejectReasons), "other")),
		incoming:      newCounterSet(append(slices.Clone(incomingResults), "other")),
	}
}

// Stats is a snapshot of the server's gauges and counters.
type Stats struct {
	Clients        int               // open sessions
	ClientsTotal   uint64            // sessions accepted since start
	StreamsOut     int64             // open streams dialed for browsers
	StreamsIn      int64             // open streams from native peers to browsers
	ServedHashes   int               // distinct info-hashes served by browsers
	Requests       map[string]uint64 // by operation ("other" = unknown)
	RequestErrors  map[string]uint64 // error answers by operation
	Rejected       map[string]uint64 // by limit (see the Reject constants)
	Incoming       map[string]uint64 // inbound native connections by outcome
	WSBytesIn      uint64            // WebSocket message bytes received
	WSBytesOut     uint64            // WebSocket message bytes sent
	StreamBytesUp  uint64            // stream payload browser → native
	StreamBytesDn  uint64            // stream payload native → browser
	DHTErrors      uint64
	ChainErrors    uint64
	DialFailures   uint64
	DHTNodes       int   // -1 without a DHT
	ChainHeight    int64 // -1 without a chain
	Announces      uint64
	AnnounceErrors uint64
}

func (cs *counterSet) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(cs.names))
	for i, n := range cs.names {
		m[n] = cs.c[i].Load()
	}
	return m
}

// Stats returns the current gauges and counters.
func (s *Server) Stats() Stats {
	m := s.m
	st := Stats{
		Clients:        int(s.clients.Load()),
		ClientsTotal:   m.sessionsTotal.Load(),
		StreamsOut:     m.streamsOut.Load(),
		StreamsIn:      m.streamsIn.Load(),
		Requests:       m.requests.snapshot(),
		RequestErrors:  m.requestErrors.snapshot(),
		Rejected:       m.rejected.snapshot(),
		Incoming:       m.incoming.snapshot(),
		WSBytesIn:      m.wsBytesIn.Load(),
		WSBytesOut:     m.wsBytesOut.Load(),
		StreamBytesUp:  m.streamBytesUp.Load(),
		StreamBytesDn:  m.streamBytesDown.Load(),
		DHTErrors:      m.dhtErrors.Load(),
		ChainErrors:    m.chainErrors.Load(),
		DialFailures:   m.dialFailures.Load(),
		DHTNodes:       -1,
		ChainHeight:    -1,
		Announces:      m.announces.Load(),
		AnnounceErrors: m.announceErrors.Load(),
	}
	s.mu.Lock()
	st.ServedHashes = len(s.served)
	s.mu.Unlock()
	if s.cfg.DHT != nil {
		st.DHTNodes = s.cfg.DHT.Nodes()
	}
	if s.cfg.Chain != nil {
		st.ChainHeight, _ = s.cfg.Chain.Tip()
	}
	return st
}

// writeMetrics writes the Prometheus text exposition format (version 0.0.4).
func (s *Server) writeMetrics(w io.Writer) {
	st := s.Stats()
	var b strings.Builder
	head := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	one := func(name, typ, help string, v any) {
		head(name, typ, help)
		fmt.Fprintf(&b, "%s %v\n", name, v)
	}
	labeled := func(name, typ, help, label string, m map[string]uint64) {
		head(name, typ, help)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{%s=%s} %d\n", name, label, strconv.Quote(k), m[k])
		}
	}
	one("twister_bridge_clients", "gauge", "Open WebSocket sessions.", st.Clients)
	one("twister_bridge_clients_total", "counter", "WebSocket sessions accepted since start.", st.ClientsTotal)
	head("twister_bridge_streams", "gauge", "Open relayed streams by direction (out: dialed for a browser; in: native peer to a served swarm).")
	fmt.Fprintf(&b, "twister_bridge_streams{dir=\"out\"} %d\ntwister_bridge_streams{dir=\"in\"} %d\n", st.StreamsOut, st.StreamsIn)
	head("twister_bridge_streams_total", "counter", "Streams opened since start by direction.")
	fmt.Fprintf(&b, "twister_bridge_streams_total{dir=\"out\"} %d\ntwister_bridge_streams_total{dir=\"in\"} %d\n", s.m.streamsOutTotal.Load(), s.m.streamsInTotal.Load())
	one("twister_bridge_served_infohashes", "gauge", "Distinct swarm info-hashes served by browsers.", st.ServedHashes)
	labeled("twister_bridge_requests_total", "counter", "Requests received by operation.", "op", st.Requests)
	labeled("twister_bridge_request_errors_total", "counter", "Requests answered with an error, by operation.", "op", st.RequestErrors)
	labeled("twister_bridge_rejected_total", "counter", "Requests, sessions, streams or frames refused by a limit.", "limit", st.Rejected)
	labeled("twister_bridge_incoming_total", "counter", "Inbound native swarm connections by outcome.", "result", st.Incoming)
	head("twister_bridge_ws_bytes_total", "counter", "WebSocket message bytes by direction (in: from browsers).")
	fmt.Fprintf(&b, "twister_bridge_ws_bytes_total{dir=\"in\"} %d\ntwister_bridge_ws_bytes_total{dir=\"out\"} %d\n", st.WSBytesIn, st.WSBytesOut)
	head("twister_bridge_ws_frames_total", "counter", "WebSocket messages by direction.")
	fmt.Fprintf(&b, "twister_bridge_ws_frames_total{dir=\"in\"} %d\ntwister_bridge_ws_frames_total{dir=\"out\"} %d\n", s.m.wsFramesIn.Load(), s.m.wsFramesOut.Load())
	head("twister_bridge_stream_bytes_total", "counter", "Relayed stream payload bytes (up: browser to native; down: native to browser).")
	fmt.Fprintf(&b, "twister_bridge_stream_bytes_total{dir=\"up\"} %d\ntwister_bridge_stream_bytes_total{dir=\"down\"} %d\n", st.StreamBytesUp, st.StreamBytesDn)
	one("twister_bridge_dht_errors_total", "counter", "DHT operations that failed.", st.DHTErrors)
	one("twister_bridge_chain_errors_total", "counter", "Chain operations that failed (not-found answers excluded).", st.ChainErrors)
	one("twister_bridge_dial_failures_total", "counter", "Outgoing stream dials that failed.", st.DialFailures)
	one("twister_bridge_announces_total", "counter", "DHT announces of the bridge's swarm port for served swarms.", st.Announces)
	one("twister_bridge_announce_errors_total", "counter", "Announces that failed.", st.AnnounceErrors)
	one("twister_bridge_dht_nodes", "gauge", "Live DHT routing-table entries (-1: no DHT).", st.DHTNodes)
	one("twister_bridge_chain_height", "gauge", "Block chain tip height (-1: no chain).", st.ChainHeight)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	one("go_goroutines", "gauge", "Number of goroutines that currently exist.", runtime.NumGoroutine())
	one("go_memstats_heap_alloc_bytes", "gauge", "Heap bytes allocated and still in use.", ms.HeapAlloc)
	one("go_memstats_heap_inuse_bytes", "gauge", "Heap bytes in in-use spans.", ms.HeapInuse)
	one("go_memstats_stack_inuse_bytes", "gauge", "Bytes in use by the stack allocator.", ms.StackInuse)
	one("go_memstats_sys_bytes", "gauge", "Bytes obtained from the system.", ms.Sys)
	one("go_memstats_mallocs_total", "counter", "Heap objects allocated.", ms.Mallocs)
	one("go_gc_cycles_total", "counter", "Completed GC cycles.", ms.NumGC)
	live := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(live)
	if live[0].Value.Kind() == rtmetrics.KindUint64 {
		one("go_gc_heap_live_bytes", "gauge", "Heap bytes marked live by the last GC (garbage excluded).", live[0].Value.Uint64())
	}
	if rss, ok := residentBytes(); ok {
		one("process_resident_memory_bytes", "gauge", "Resident set size in bytes.", rss)
	}
	io.WriteString(w, b.String())
}

// residentBytes reads the resident set size from /proc (Linux only).
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}
