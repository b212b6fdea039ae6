// Command bridgeload measures what idle browser sessions cost a twister
// bridge: it opens N WebSocket sessions (each says hello and then only
// keeps alive, as an idle browser node does) against one running bridge,
// holds them, and reads the bridge's /metrics before and after to report
// the bridge's memory per session (Go heap and stacks in use, and resident
// set size) and goroutines per session. It raises its own open-file limit
// and spreads its connections over several loopback source addresses so
// that 20,000 sessions do not exhaust one address's ephemeral ports.
//
// Usage:
//
//	bridgeload -url ws://127.0.0.1:8090/ws -n 2000 [-concurrency 64] [-hold 10s] [-src 127.0.5.1 -src-count 16]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotwister/twister/bridge/client"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bridgeload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsURL := fs.String("url", "ws://127.0.0.1:8090/ws", "bridge WebSocket `URL`")
	n := fs.Int("n", 2000, "sessions to open")
	conc := fs.Int("concurrency", 64, "sessions being opened at once")
	hold := fs.Duration("hold", 10*time.Second, "how long to hold the sessions before measuring")
	src := fs.String("src", "127.0.5.1", "first loopback source `IP` to dial from")
	srcCount := fs.Int("src-count", 16, "number of consecutive source IPs to use")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	first, err := netip.ParseAddr(*src)
	if err != nil || !first.Is4() || *srcCount < 1 || *n < 1 || *conc < 1 {
		fmt.Fprintln(stderr, "bridgeload: -src must be an IPv4 address; -src-count, -n and -concurrency positive")
		return 2
	}
	u, err := url.Parse(*wsURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		fmt.Fprintf(stderr, "bridgeload: bad -url %q\n", *wsURL)
		return 2
	}
	httpScheme := map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	metricsURL := httpScheme + "://" + u.Host + "/metrics"

	if got, err := raiseFileLimit(uint64(*n) + 1024); err != nil || got < uint64(*n)+64 {
		fmt.Fprintf(stderr, "bridgeload: open-file limit %d is too low for %d sessions (%v)\n", got, *n, err)
		return 1
	}
	// One HTTP client per source address, each dialing from it.
	var clients []*http.Client
	ip := first
	for range *srcCount {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
		clients = append(clients, &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConns: -1}})
		ip = ip.Next()
	}

	before, err := scrape(metricsURL)
	if err != nil {
		fmt.Fprintf(stderr, "bridgeload: %v\n", err)
		return 1
	}
	var selfBefore runtime.MemStats
	runtime.ReadMemStats(&selfBefore)

	start := time.Now()
	sessions := make([]*client.Client, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, err := client.DialWith(ctx, *wsURL, client.Options{HTTPClient: clients[i%len(clients)]})
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				sessions[i] = c
			}
		}()
	}
	wg.Wait()
	opened := *n - int(failed.Load())
	fmt.Fprintf(stdout, "opened %d sessions in %v (%d failed", opened, time.Since(start).Round(time.Millisecond), failed.Load())
	if e, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(stdout, "; first error: %v", e)
	}
	fmt.Fprintln(stdout, ")")
	if opened == 0 {
		return 1
	}
	time.Sleep(*hold)
	after, err := scrape(metricsURL)
	if err != nil {
		fmt.Fprintf(stderr, "bridgeload: %v\n", err)
		return 1
	}
	alive := 0
	for _, c := range sessions {
		if c != nil && c.Err() == nil {
			alive++
		}
	}
	var selfAfter runtime.MemStats
	runtime.ReadMemStats(&selfAfter)

	// Per session of the bridge's own count, so that several load tools
	// running at once each report consistent figures.
	sessionsDelta := after["twister_bridge_clients"] - before["twister_bridge_clients"]
	if sessionsDelta <= 0 {
		fmt.Fprintln(stderr, "bridgeload: the bridge reports no new sessions")
		return 1
	}
	per := func(name string) float64 { return (after[name] - before[name]) / sessionsDelta }
	heap, stack, rss := per("go_memstats_heap_inuse_bytes"), per("go_memstats_stack_inuse_bytes"), per("process_resident_memory_bytes")
	fmt.Fprintf(stdout, "bridge: clients %v -> %v (alive here: %d), goroutines %v -> %v\n",
		before["twister_bridge_clients"], after["twister_bridge_clients"], alive, before["go_goroutines"], after["go_goroutines"])
	fmt.Fprintf(stdout, "bridge memory per session: heap in use %.1f KB (live after last GC %.1f KB) + stacks %.1f KB = %.1f KB; resident %.1f KB; goroutines %.2f\n",
		heap/1024, per("go_gc_heap_live_bytes")/1024, stack/1024, (heap+stack)/1024, rss/1024, per("go_goroutines"))
	fmt.Fprintf(stdout, "bridge totals: heap in use %.1f MB, stacks %.1f MB, sys %.1f MB, resident %.1f MB\n",
		after["go_memstats_heap_inuse_bytes"]/1e6, after["go_memstats_stack_inuse_bytes"]/1e6,
		after["go_memstats_sys_bytes"]/1e6, after["process_resident_memory_bytes"]/1e6)
	fmt.Fprintf(stdout, "load tool (client side) per session: %.1f KB heap+stacks\n",
		float64(selfAfter.HeapInuse+selfAfter.StackInuse-selfBefore.HeapInuse-selfBefore.StackInuse)/float64(opened)/1024)
	for _, c := range sessions {
		if c != nil {
			go c.Close()
		}
	}
	time.Sleep(time.Second)
	return 0
}

// scrape reads the numeric samples without labels from a Prometheus text
// page.
func scrape(u string) (map[string]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("reading %s: %s", u, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no metrics at " + u)
	}
	return out, sc.Err()
}

// raiseFileLimit raises RLIMIT_NOFILE to want if it can (the hard limit
// too, when running as root) and returns the soft limit in force.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	if lim.Max < want {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want, nil
		}
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
