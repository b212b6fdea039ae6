// Command nodebench measures a small network of real twisterd processes
// through JSON-RPC only, and prints one JSON object with the figures the
// native node is judged by: start to DHT ready, DHT put→get latency, post
// delivery to a follower, the time a follower takes to fetch 1,000 posts of
// 50 users, newpostmsg and getposts throughput, and each node's resident
// memory.
//
// It builds ./cmd/twisterd into a temporary directory (or uses -twisterd),
// starts three nodes on 127.0.6.1-3 with temporary data directories in a hub
// layout (nodes 2 and 3 -addnode node 1), registers the users on the chain
// by mining regtest blocks on node 1, runs the measurements and stops the
// nodes. Run it from the module root:
//
//	go run ./bench/nodebench -out bench/out/nodebench.json
//
// The figures depend on the machine's load; the JSON carries the reference
// figures measured with twister-core's twisterd and the goals next to ours.
// A phase that fails (e.g. a follower that never gets every post) is
// reported in "errors" and the run goes on where it can.
//
// Profiling: -perf -perf-what newpostmsg|fetch|getposts [-perf-dir DIR]
// records the busy node with perf(1) during that phase (perf report -i the
// printed file); -nodearg=-debug passes flags to every node; -keep keeps
// the data directories and node logs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	out, twisterd, ipBase   string
	users, posts, puts      int
	deliveries, clients     int
	getpostsDur             time.Duration
	fetchTimeout            time.Duration
	keep, verbose, profile  bool
	profileDir, profileWhat string
	nodeArgs                []string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nodebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.out, "out", "", "also write the JSON result to this `file` (its directory is created)")
	fs.StringVar(&o.twisterd, "twisterd", "", "use this twisterd `binary` instead of building ./cmd/twisterd")
	fs.StringVar(&o.ipBase, "ip", "127.0.6", "first three octets of the nodes' loopback addresses (nodes get .1, .2, .3)")
	fs.IntVar(&o.users, "users", 50, "authors on node 1 that node 3 follows")
	fs.IntVar(&o.posts, "posts", 20, "posts per author")
	fs.IntVar(&o.puts, "puts", 20, "dhtput→dhtget samples")
	fs.IntVar(&o.deliveries, "deliveries", 50, "steady-state post delivery samples")
	fs.IntVar(&o.clients, "clients", 8, "concurrent clients for the concurrent throughput figures")
	fs.DurationVar(&o.getpostsDur, "getposts-time", 3*time.Second, "how long to measure getposts throughput")
	fs.DurationVar(&o.fetchTimeout, "fetch-timeout", time.Minute, "give up the fetch of every post after this long")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directories and node logs")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	// Hidden (see the package comment): record a CPU profile of the busy
	// node with perf(1) during one phase.
	fs.BoolVar(&o.profile, "perf", false, "")
	fs.StringVar(&o.profileDir, "perf-dir", "", "")
	fs.StringVar(&o.profileWhat, "perf-what", "newpostmsg", "")
	fs.Var((*listFlag)(&o.nodeArgs), "nodearg", "extra twisterd `flag` for every node, e.g. -nodearg=-debug (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.users < 1 || o.posts < 1 || o.puts < 1 || o.deliveries < 1 || o.clients < 1 || o.users > 100 {
		fmt.Fprintln(stderr, "nodebench: -users (1..100), -posts, -puts, -deliveries and -clients must be positive")
		return 2
	}
	b := &bench{o: o, stderr: stderr}
	res, err := b.run()
	b.stopAll()
	if err != nil {
		fmt.Fprintln(stderr, "nodebench:", err)
		if b.tmp != "" {
			fmt.Fprintln(stderr, "nodebench: node logs kept in", b.tmp)
		}
		return 1
	}
	if !o.keep && b.tmp != "" {
		os.RemoveAll(b.tmp)
	} else if b.tmp != "" {
		fmt.Fprintln(stderr, "nodebench: data directories and logs kept in", b.tmp)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	out = append(out, '\n')
	stdout.Write(out)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err == nil {
			err = os.WriteFile(o.out, out, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "nodebench: writing -out:", err)
			return 1
		}
	}
	return 0
}

// Result is the JSON the bench prints. Times are in seconds (…_s) or
// milliseconds (…_ms).
type Result struct {
	When     string  `json:"when"`
	GoOS     string  `json:"goos"`
	CPUs     int     `json:"cpus"`
	LoadAvg  string  `json:"loadavg_at_start"`
	Users    int     `json:"users"`
	Posts    int     `json:"posts_per_user"`
	Register float64 `json:"register_users_s"`

	StartToDHTReady      float64   `json:"start_to_dht_ready_s"`
	StartToDHTReadyNodes []float64 `json:"start_to_dht_ready_per_node_s"`
	StartToRPC           []float64 `json:"start_to_rpc_per_node_s"`

	DHTPutGetP50 float64 `json:"dhtput_to_dhtget_p50_ms"`
	DHTPutGetP90 float64 `json:"dhtput_to_dhtget_p90_ms"`
	DHTPutGetMax float64 `json:"dhtput_to_dhtget_max_ms"`
	DHTSamples   int     `json:"dhtput_samples"`

	FirstPost       float64 `json:"first_post_delivery_ms"`
	PostDeliveryP50 float64 `json:"post_delivery_p50_ms"`
	PostDeliveryP99 float64 `json:"post_delivery_p99_ms"`
	DeliverySamples int     `json:"post_delivery_samples"`
	FetchAll        float64 `json:"fetch_all_posts_s"`
	FetchedPosts    int     `json:"fetched_posts"`
	NewPostSeq      float64 `json:"newpostmsg_per_s_sequential"`
	NewPostConc     float64 `json:"newpostmsg_per_s_concurrent"`
	// CPU time (user + system) each node spent per post during the
	// sequential newpostmsg phase, in ms: a figure that does not depend on
	// how loaded the machine was, unlike the rates.
	NewPostCPUms     []float64 `json:"newpostmsg_cpu_ms_per_post_by_node"`
	GetPostsSeq      float64   `json:"getposts_per_s_sequential"`
	GetPostsConc     float64   `json:"getposts_per_s_concurrent"`
	GetPostsReturned int       `json:"getposts_posts_per_call"`
	Clients          int       `json:"concurrent_clients"`
	GetPostsNode     int       `json:"getposts_node"`
	RSSMB            []float64 `json:"rss_after_fetch_mb"`
	Errors           []string  `json:"errors,omitempty"`

	Goals []Goal `json:"goals"`
}

// Goal compares one figure with twisterd's and the goal.
type Goal struct {
	Figure    string  `json:"figure"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Reference string  `json:"twisterd"`
	Goal      string  `json:"goal"`
	Met       bool    `json:"met"`
}

type node struct {
	idx              int
	ip               string
	port, rpcPort    int
	dir, logPath     string
	cmd              *exec.Cmd
	started          time.Time
	exited           chan struct{}
	rpc              *client
	rpcUp, dhtUp     time.Duration
	rpcSeen, dhtSeen bool
}

type bench struct {
	o      options
	stderr io.Writer
	tmp    string
	bin    string
	nodes  []*node
}

func (b *bench) logf(format string, args ...any) {
	if b.o.verbose {
		fmt.Fprintf(b.stderr, "nodebench: "+format+"\n", args...)
	}
}

func (b *bench) run() (*Result, error) {
	res := &Result{When: time.Now().UTC().Format(time.RFC3339), GoOS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), Users: b.o.users, Posts: b.o.posts, Clients: b.o.clients}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	var err error
	if b.tmp, err = os.MkdirTemp("", "nodebench-"); err != nil {
		return nil, err
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	if err := b.startNodes(res); err != nil {
		return nil, err
	}
	n1, n2, n3 := b.nodes[0], b.nodes[1], b.nodes[2]

	// Users: the authors, a poster and two readers.
	authors := make([]string, b.o.users)
	for i := range authors {
		authors[i] = fmt.Sprintf("author%02d", i)
	}
	start := time.Now()
	local := map[*node][]string{n1: append([]string{"poster"}, authors...), n2: {"reader"}, n3: {"fan"}}
	if err := b.register(local); err != nil {
		return nil, err
	}
	res.Register = secs(time.Since(start))
	b.logf("registered %d users in %.1f s", len(authors)+3, res.Register)

	if err := b.measureDHT(res, n1, []*node{n2, n3}); err != nil {
		return nil, err
	}
	if err := b.measureDelivery(res, n1, n2); err != nil {
		return nil, err
	}
	if err := b.measurePosting(res, n1, authors); err != nil {
		return nil, err
	}
	// A follower that cannot fetch everything is a result, not the end
	// of the run: the rest is measured on the node that has the posts.
	reader := n3
	if err := b.measureFetch(res, n3, authors); err != nil {
		res.Errors = append(res.Errors, err.Error())
		reader = n1
	}
	for _, n := range b.nodes {
		res.RSSMB = append(res.RSSMB, round(rssMB(n.cmd.Process.Pid), 1))
	}
	res.GetPostsNode = reader.idx
	if err := b.measureGetPosts(res, reader, authors); err != nil {
		return nil, err
	}
	res.Goals = goals(res)
	return res, nil
}

// build compiles twisterd unless a binary was given.
func (b *bench) build() error {
	if b.o.twisterd != "" {
		b.bin = b.o.twisterd
		return nil
	}
	b.bin = filepath.Join(b.tmp, "twisterd")
	cmd := exec.Command("go", "build", "-o", b.bin, "github.com/gotwister/twister/cmd/twisterd")
	cmd.Stdout, cmd.Stderr = b.stderr, b.stderr
	b.logf("building twisterd")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building twisterd (run nodebench from the module root): %w", err)
	}
	return nil
}

// freePort returns a port free for TCP and whose +1000 is free for UDP and
// TCP (the DHT and swarm port) on ip.
func freePort(ip string) (int, error) {
	for range 200 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+1000 > 65535 {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port+1000)))
		if err != nil {
			continue
		}
		u.Close()
		t, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port+1000)))
		if err != nil {
			continue
		}
		t.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port on %s", ip)
}

func (b *bench) startNodes(res *Result) error {
	for i := range 3 {
		ip := fmt.Sprintf("%s.%d", b.o.ipBase, i+1)
		port, err := freePort(ip)
		if err != nil {
			return err
		}
		rpcPort, err := freePort(ip)
		if err != nil {
			return err
		}
		n := &node{idx: i + 1, ip: ip, port: port, rpcPort: rpcPort, dir: filepath.Join(b.tmp, fmt.Sprintf("node%d", i+1)), exited: make(chan struct{})}
		n.logPath = filepath.Join(b.tmp, fmt.Sprintf("node%d.log", i+1))
		n.rpc = newClient(fmt.Sprintf("http://%s:%d/", ip, rpcPort), 2*b.o.clients)
		b.nodes = append(b.nodes, n)
	}
	hub := b.nodes[0]
	for _, n := range b.nodes {
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return err
		}
		args := []string{"-regtest", "-datadir=" + n.dir, "-bind=" + n.ip, "-rpcbind=" + n.ip,
			"-port=" + strconv.Itoa(n.port), "-rpcport=" + strconv.Itoa(n.rpcPort),
			"-rpcuser=bench", "-rpcpassword=bench"}
		args = append(args, b.o.nodeArgs...)
		if n != hub {
			args = append(args, fmt.Sprintf("-addnode=%s:%d", hub.ip, hub.port), fmt.Sprintf("-dhtnode=%s:%d", hub.ip, hub.port+1000))
		}
		logf, err := os.Create(n.logPath)
		if err != nil {
			return err
		}
		n.cmd = exec.Command(b.bin, args...)
		n.cmd.Stdout, n.cmd.Stderr = logf, logf
		n.started = time.Now()
		if err := n.cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting node %d: %w", n.idx, err)
		}
		go func() { n.cmd.Wait(); logf.Close(); close(n.exited) }()
	}
	// Poll every node until its RPC answers and its DHT has a node.
	deadline := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, n := range b.nodes {
			select {
			case <-n.exited:
				return fmt.Errorf("node %d exited at start (log %s)", n.idx, n.logPath)
			default:
			}
			if n.dhtSeen {
				continue
			}
			all = false
			var info map[string]any
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := n.rpc.callInto(ctx, &info, "getinfo")
			cancel()
			if err != nil {
				continue
			}
			if !n.rpcSeen {
				n.rpcSeen, n.rpcUp = true, time.Since(n.started)
			}
			if d, _ := info["dht_nodes"].(float64); d >= 1 {
				n.dhtSeen, n.dhtUp = true, time.Since(n.started)
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the nodes' DHTs found no node within 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, n := range b.nodes {
		res.StartToDHTReadyNodes = append(res.StartToDHTReadyNodes, round(secs(n.dhtUp), 3))
		res.StartToRPC = append(res.StartToRPC, round(secs(n.rpcUp), 3))
		res.StartToDHTReady = math.Max(res.StartToDHTReady, round(secs(n.dhtUp), 3))
	}
	b.logf("DHT ready after %v s", res.StartToDHTReadyNodes)
	return nil
}

func (b *bench) stopAll() {
	for _, n := range b.nodes {
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		select {
		case <-n.exited:
			continue
		default:
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range b.nodes {
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
	}
}

// register creates and registers every user on its node, then mines on
// node 1 (setgenerate true 1) until all are in a block, plus one more
// block, and enough further blocks that every author may post
// max(posts, deliveries+1) posts (k ≤ 2·(tip − registration) + 20).
func (b *bench) register(local map[*node][]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var all []string
	for _, n := range b.nodes {
		for _, u := range local[n] {
			if err := n.rpc.call(ctx, "createwalletuser", u); err != nil {
				return fmt.Errorf("createwalletuser %s: %w", u, err)
			}
			if err := n.rpc.call(ctx, "sendnewusertransaction", u); err != nil {
				return fmt.Errorf("sendnewusertransaction %s: %w", u, err)
			}
			all = append(all, u)
		}
	}
	miner := b.nodes[0]
	in := func() bool {
		for _, u := range all {
			var key string
			if err := miner.rpc.callInto(ctx, &key, "dumppubkey", u); err != nil || key == "" {
				return false
			}
		}
		return true
	}
	mine := func() error {
		var h0 int64
		if err := miner.rpc.callInto(ctx, &h0, "getblockcount"); err != nil {
			return err
		}
		if err := miner.rpc.call(ctx, "setgenerate", true, 1); err != nil {
			return fmt.Errorf("setgenerate: %w", err)
		}
		for {
			var h int64
			if err := miner.rpc.callInto(ctx, &h, "getblockcount"); err != nil {
				return err
			}
			if h > h0 {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Registrations made on nodes 2 and 3 reach the miner by relay: give
	// them time rather than mining empty blocks in a tight loop.
	for tries := 0; !in(); tries++ {
		if tries > 50 {
			return errors.New("registrations not mined after 50 blocks")
		}
		if err := mine(); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	extra := 1 + max(0, (max(b.o.posts, b.o.deliveries+1)-20+1)/2)
	for range extra {
		if err := mine(); err != nil {
			return err
		}
	}
	var h int64
	if err := miner.rpc.callInto(ctx, &h, "getblockcount"); err != nil {
		return err
	}
	for _, n := range b.nodes[1:] {
		for {
			var hn int64
			if err := n.rpc.callInto(ctx, &hn, "getblockcount"); err != nil {
				return err
			}
			if hn >= h {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("node %d did not sync the chain: %w", n.idx, ctx.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// measureDHT stores single resources from node 1 and times until another
// node's dhtget returns them.
func (b *bench) measureDHT(res *Result, from *node, to []*node) error {
	var samples []time.Duration
	for i := range b.o.puts {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r := fmt.Sprintf("bench%d", i)
		dst := to[i%len(to)]
		t0 := time.Now()
		if err := from.rpc.call(ctx, "dhtput", "poster", r, "s", fmt.Sprintf("value %d", i), "poster", 1); err != nil {
			cancel()
			return fmt.Errorf("dhtput: %w", err)
		}
		for {
			var items []any
			if err := dst.rpc.callInto(ctx, &items, "dhtget", "poster", r, "s", 2000); err != nil {
				cancel()
				return fmt.Errorf("dhtget on node %d: %w", dst.idx, err)
			}
			if len(items) > 0 {
				samples = append(samples, time.Since(t0))
				break
			}
			if ctx.Err() != nil {
				cancel()
				return fmt.Errorf("dhtget on node %d never found %s", dst.idx, r)
			}
		}
		cancel()
	}
	res.DHTSamples = len(samples)
	res.DHTPutGetP50 = ms(percentile(samples, 0.5))
	res.DHTPutGetP90 = ms(percentile(samples, 0.9))
	res.DHTPutGetMax = ms(percentile(samples, 1))
	b.logf("dhtput→dhtget p50 %.1f ms", res.DHTPutGetP50)
	return nil
}

// measureDelivery has reader (node 2) follow poster (node 1), then times
// each of poster's posts until reader's node holds it.
func (b *bench) measureDelivery(res *Result, from, to *node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Users follow themselves, as the web UI makes them do.
	if err := from.rpc.call(ctx, "follow", "poster", []string{"poster"}); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	if err := to.rpc.call(ctx, "follow", "reader", []string{"reader", "poster"}); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	deliver := func(k int) (time.Duration, error) {
		t0 := time.Now()
		if err := from.rpc.call(ctx, "newpostmsg", "poster", k, fmt.Sprintf("post %d from the poster #bench", k)); err != nil {
			return 0, fmt.Errorf("newpostmsg: %w", err)
		}
		for {
			var lh map[string]int64
			if err := to.rpc.callInto(ctx, &lh, "getlasthave", "reader"); err != nil {
				return 0, err
			}
			if lh["poster"] >= int64(k) {
				return time.Since(t0), nil
			}
			if ctx.Err() != nil {
				return 0, fmt.Errorf("post %d never reached the follower", k)
			}
			time.Sleep(time.Millisecond)
		}
	}
	first, err := deliver(1)
	if err != nil {
		return err
	}
	res.FirstPost = ms(first)
	var samples []time.Duration
	for k := 2; k < 2+b.o.deliveries; k++ {
		d, err := deliver(k)
		if err != nil {
			return err
		}
		samples = append(samples, d)
	}
	res.DeliverySamples = len(samples)
	res.PostDeliveryP50 = ms(percentile(samples, 0.5))
	res.PostDeliveryP99 = ms(percentile(samples, 0.99))
	b.logf("delivery: first %.1f ms, p50 %.1f ms, p99 %.1f ms", res.FirstPost, res.PostDeliveryP50, res.PostDeliveryP99)
	return nil
}

// measurePosting writes posts·users posts on node 1: the first half of the
// authors by one sequential client, the rest by concurrent clients (each
// author's posts by one client, in order).
func (b *bench) measurePosting(res *Result, n *node, authors []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	half := max(len(authors)/2, 1)
	post := func(u string, k int) error {
		if err := n.rpc.call(ctx, "newpostmsg", u, k, fmt.Sprintf("post %d of %s, with a #benchtag and a few words", k, u)); err != nil {
			return fmt.Errorf("newpostmsg %s %d: %w", u, k, err)
		}
		return nil
	}
	stop := b.perf("newpostmsg", n)
	cpu0 := b.cpuTimes()
	t0 := time.Now()
	for _, u := range authors[:half] {
		for k := 1; k <= b.o.posts; k++ {
			if err := post(u, k); err != nil {
				return err
			}
		}
	}
	res.NewPostSeq = round(float64(half*b.o.posts)/time.Since(t0).Seconds(), 1)
	// Let the background work of the phase (DHT publication) finish
	// before reading the CPU time it cost.
	time.Sleep(2 * time.Second)
	for i, c := range b.cpuTimes() {
		res.NewPostCPUms = append(res.NewPostCPUms, round((c-cpu0[i]).Seconds()*1000/float64(half*b.o.posts), 3))
	}
	stop()
	rest := authors[half:]
	if len(rest) > 0 {
		t0 = time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, b.o.clients)
		for c := range b.o.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < len(rest); i += b.o.clients {
					for k := 1; k <= b.o.posts; k++ {
						if err := post(rest[i], k); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		res.NewPostConc = round(float64(len(rest)*b.o.posts)/time.Since(t0).Seconds(), 1)
	}
	b.logf("newpostmsg: %.0f/s sequential, %.0f/s with %d clients", res.NewPostSeq, res.NewPostConc, b.o.clients)
	return nil
}

// measureFetch has fan (node 3) follow every author and times until
// getlasthave and getnumpieces show every post. When the follower stalls it reports how
// many posts it got.
func (b *bench) measureFetch(res *Result, n *node, authors []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.fetchTimeout+30*time.Second)
	defer cancel()
	stop := b.perf("fetch", n)
	defer stop()
	count := func() {
		var counts map[string]int64
		if err := n.rpc.callInto(ctx, &counts, "getnumpieces", "fan"); err == nil {
			res.FetchedPosts = 0
			for _, u := range authors {
				res.FetchedPosts += int(counts[u])
			}
		}
	}
	t0 := time.Now()
	if err := n.rpc.call(ctx, "follow", "fan", append([]string{"fan"}, authors...)); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	// Pieces arrive in any order: getlasthave (the highest post number
	// held) shows the last post before every post is there, so the fetch
	// is done when getnumpieces counts every post too.
	for {
		var lh, held map[string]int64
		if err := n.rpc.callInto(ctx, &lh, "getlasthave", "fan"); err != nil {
			return err
		}
		done := true
		for _, u := range authors {
			if lh[u] < int64(b.o.posts) {
				done = false
				break
			}
		}
		if done {
			if err := n.rpc.callInto(ctx, &held, "getnumpieces", "fan"); err != nil {
				return err
			}
			for _, u := range authors {
				if held[u] < int64(b.o.posts) {
					done = false
					break
				}
			}
		}
		if done {
			break
		}
		if time.Since(t0) > b.o.fetchTimeout {
			count()
			res.FetchAll = -1
			return fmt.Errorf("the follower fetched %d of %d posts in %v", res.FetchedPosts, len(authors)*b.o.posts, b.o.fetchTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.FetchAll = round(secs(time.Since(t0)), 3)
	count()
	b.logf("fetched %d posts in %.2f s", res.FetchedPosts, res.FetchAll)
	return nil
}

// measureGetPosts calls getposts 20 [the authors] on the follower node,
// from one client and then from concurrent clients.
func (b *bench) measureGetPosts(res *Result, n *node, authors []string) error {
	var ranges []map[string]any
	for _, u := range authors {
		ranges = append(ranges, map[string]any{"username": u})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var first []json.RawMessage
	if err := n.rpc.callInto(ctx, &first, "getposts", 20, ranges); err != nil {
		return fmt.Errorf("getposts: %w", err)
	}
	res.GetPostsReturned = len(first)
	if len(first) < 20 {
		return fmt.Errorf("getposts returned %d posts, want 20", len(first))
	}
	// The timed calls send the same request and expect the very bytes of
	// the first answer (nothing is posted meanwhile): the client does not
	// decode JSON it does not need, so that what is measured is the node.
	body, err := json.Marshal(map[string]any{"id": 1, "method": "getposts", "params": []any{20, ranges}})
	if err != nil {
		return err
	}
	want, err := n.rpc.post(ctx, body, nil)
	if err != nil {
		return fmt.Errorf("getposts: %w", err)
	}
	if !bytes.HasPrefix(want, []byte(`{"result":[`)) {
		return fmt.Errorf("getposts answered %.200s", want)
	}
	measure := func(clients int) (float64, error) {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			calls int
			ferr  error
		)
		end := time.Now().Add(b.o.getpostsDur)
		t0 := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				done := 0
				var buf []byte
				for time.Now().Before(end) {
					got, err := n.rpc.post(ctx, body, buf)
					if err == nil && !bytes.Equal(got, want) {
						err = fmt.Errorf("getposts answered differently: %.200s", got)
					}
					if err != nil {
						mu.Lock()
						ferr = err
						mu.Unlock()
						return
					}
					buf = got
					done++
				}
				mu.Lock()
				calls += done
				mu.Unlock()
			}()
		}
		wg.Wait()
		return round(float64(calls)/time.Since(t0).Seconds(), 1), ferr
	}
	stop := b.perf("getposts", n)
	if res.GetPostsSeq, err = measure(1); err != nil {
		stop()
		return err
	}
	stop()
	if res.GetPostsConc, err = measure(b.o.clients); err != nil {
		return err
	}
	b.logf("getposts: %.0f/s sequential, %.0f/s with %d clients", res.GetPostsSeq, res.GetPostsConc, b.o.clients)
	return nil
}

// perf records a CPU profile of node n with perf(1) during one phase when
// -perf is set and the phase is the one asked for; it returns the stop
// function.
func (b *bench) perf(phase string, n *node) func() {
	if !b.o.profile || phase != b.o.profileWhat {
		return func() {}
	}
	dir := b.o.profileDir
	if dir == "" {
		dir = b.tmp
	}
	out := filepath.Join(dir, fmt.Sprintf("perf-%s-node%d.data", phase, n.idx))
	args := []string{"record", "-g", "-F", "999", "-o", out, "-p", strconv.Itoa(n.cmd.Process.Pid)}
	if os.Getenv("NODEBENCH_PERF_ALL") != "" {
		args = []string{"record", "-F", "999", "-o", out, "-a"}
	}
	cmd := exec.Command("perf", args...)
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(b.stderr, "nodebench: perf:", err)
		return func() {}
	}
	time.Sleep(300 * time.Millisecond)
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		fmt.Fprintln(b.stderr, "nodebench: profile written to", out)
	}
}

func goals(r *Result) []Goal {
	g := func(fig string, v float64, unit, ref, goal string, met bool) Goal {
		return Goal{Figure: fig, Value: v, Unit: unit, Reference: ref, Goal: goal, Met: met}
	}
	maxRSS := 0.0
	for _, x := range r.RSSMB {
		maxRSS = math.Max(maxRSS, x)
	}
	return []Goal{
		g("start to DHT ready", r.StartToDHTReady, "s", "15 s", "≤ 1 s", r.StartToDHTReady <= 1),
		g("dhtput → dhtget p50", r.DHTPutGetP50, "ms", "190 ms", "≤ 20 ms", r.DHTPutGetP50 <= 20),
		g("first post delivery", r.FirstPost, "ms", "650–1000 ms", "≤ 200 ms", r.FirstPost <= 200),
		g("post delivery p50", r.PostDeliveryP50, "ms", "70 ms", "≤ 20 ms", r.PostDeliveryP50 <= 20),
		g("fetch 1,000 posts", r.FetchAll, "s", "10–15 s", "≤ 1.5 s", r.FetchAll > 0 && r.FetchAll <= 1.5),
		g("newpostmsg sequential", r.NewPostSeq, "/s", "21–25/s", "≥ 500/s", r.NewPostSeq >= 500),
		g("newpostmsg concurrent", r.NewPostConc, "/s", "21–25/s", "≥ 500/s", r.NewPostConc >= 500),
		g("getposts 20 of 50 users", r.GetPostsSeq, "/s", "50/s", "≥ 2,000/s", r.GetPostsSeq >= 2000),
		g("getposts 20 of 50 users, concurrent", r.GetPostsConc, "/s", "50/s", "≥ 2,000/s", r.GetPostsConc >= 2000),
		g("RSS after fetch (largest node)", maxRSS, "MB", "55–70 MB", "≤ 40 MB", maxRSS <= 40),
	}
}

// cpuTimes returns the CPU time (user + system) each node has used.
func (b *bench) cpuTimes() []time.Duration {
	var out []time.Duration
	for _, n := range b.nodes {
		out = append(out, cpuTime(n.cmd.Process.Pid))
	}
	return out
}

// cpuTime reads utime + stime of a process from /proc/<pid>/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rssMB reads VmRSS of a process.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func secs(d time.Duration) float64 { return d.Seconds() }
func ms(d time.Duration) float64   { return round(float64(d)/float64(time.Millisecond), 2) }
func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// client is a JSON-RPC client with keep-alive connections.
type client struct {
	url string
	hc  *http.Client
}

func newClient(url string, conns int) *client {
	return &client{url: url, hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true,
	}}}
}

// rpcError is an error reply.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("error %d: %s", e.Code, e.Message) }

func (c *client) call(ctx context.Context, method string, params ...any) error {
	return c.callInto(ctx, nil, method, params...)
}

// post sends an encoded request and returns the whole answer (read into
// buf's storage), which must come with HTTP 200.
func (c *client) post(ctx context.Context, body, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("bench", "bench")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer(buf[:0])
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b.Bytes())
	}
	return b.Bytes(), nil
}

func (c *client) callInto(ctx context.Context, out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth("bench", "bench")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return fmt.Errorf("%s: decoding reply (HTTP %d): %w", method, resp.StatusCode, err)
	}
	if reply.Error != nil {
		return reply.Error
	}
	if out != nil {
		if err := json.Unmarshal(reply.Result, out); err != nil {
			return fmt.Errorf("%s: result %s: %w", method, reply.Result, err)
		}
	}
	return nil
}
