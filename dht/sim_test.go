package dht

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/memnet"
	"github.com/gotwister/twister/resource"
)

// simConfig describes one simulated network.
type simConfig struct {
	Nodes    int
	Items    int     // half singles (profile), a quarter mention, a quarter replies
	Churn    float64 // fraction of nodes replaced after the puts
	Latency  time.Duration
	Jitter   time.Duration
	Drop     float64
	Settle   time.Duration // virtual time between churn and the gets
	Refresh  time.Duration // RefreshInterval of the nodes (0: default 60 min)
	Parallel int           // concurrent joins, puts and gets
}

type simResult struct {
	Nodes, Items        int
	PutOK, Queued       int
	GetBefore, GetAfter int // items found before and after churn
	Rounds, Msgs        []int
	Virtual             time.Duration
	Sent, Lost          int64
}

func (r simResult) String() string {
	med := func(x []int) int { y := slices.Clone(x); slices.Sort(y); return y[len(y)/2] }
	p90 := func(x []int) int { y := slices.Clone(x); slices.Sort(y); return y[len(y)*9/10] }
	mean := func(x []int) float64 {
		s := 0
		for _, v := range x {
			s += v
		}
		return float64(s) / float64(len(x))
	}
	return fmt.Sprintf("%d nodes, %d items: puts accepted %d (queued %d); found before churn %d/%d (%.2f%%), after churn %d/%d (%.2f%%); "+
		"rounds per get median %d p90 %d max %d; messages per get median %d mean %.1f p90 %d; "+
		"datagrams %d (lost %d); virtual time %v",
		r.Nodes, r.Items, r.PutOK, r.Queued, r.GetBefore, r.Items, 100*float64(r.GetBefore)/float64(r.Items),
		r.GetAfter, r.Items, 100*float64(r.GetAfter)/float64(r.Items),
		med(r.Rounds), p90(r.Rounds), slices.Max(r.Rounds), med(r.Msgs), mean(r.Msgs), p90(r.Msgs),
		r.Sent, r.Lost, r.Virtual.Round(time.Second))
}

type simItem struct {
	signer, name, res string
	multi             bool
	value             string
}

// runSim builds the network, puts, checks, churns, waits and checks again.
// Call it inside a synctest bubble so timeouts and refresh intervals run
// in virtual time.
func runSim(t *testing.T, sc simConfig) simResult {
	rnd := rand.New(rand.NewPCG(uint64(sc.Nodes), 42))
	res := simResult{Nodes: sc.Nodes, Items: sc.Items}
	const nUsers = 64
	names := make([]string, nUsers)
	for i := range names {
		names[i] = "user" + strconv.Itoa(i)
	}
	ks, ch := users(t, names...)
	nw := memnet.New(memnet.Config{Latency: sc.Latency, Jitter: sc.Jitter, DropRate: sc.Drop, Seed: uint64(sc.Nodes)})
	usedIP := map[netip.Addr]bool{}
	var mu sync.Mutex
	newAddr := func() netip.AddrPort {
		mu.Lock()
		defer mu.Unlock()
		for {
			// Public-looking addresses, so node ids are derived and checked.
			ip := netip.AddrFrom4([4]byte{byte(20 + rnd.IntN(80)), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(1 + rnd.IntN(254))})
			if !usedIP[ip] {
				usedIP[ip] = true
				return netip.AddrPortFrom(ip, 28333+1000)
			}
		}
	}
	cfg := func(c *Config) {
		c.TickInterval = time.Minute
		c.RefreshInterval = sc.Refresh
	}
	var live []*DHT
	newNode := func() *DHT {
		conn, err := nw.Listen(newAddr())
		if err != nil {
			t.Fatal(err)
		}
		c := Config{Conn: conn, Chain: ch}
		cfg(&c)
		d, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		return d
	}
	randomLive := func() *DHT {
		mu.Lock()
		defer mu.Unlock()
		return live[rnd.IntN(len(live))]
	}
	parallel := func(n int, f func(i int)) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, sc.Parallel)
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				f(i)
			}(i)
		}
		wg.Wait()
	}
	join := func(n int) {
		parallel(n, func(int) {
			d := newNode()
			// A lost ping leaves the table empty: try another node, as
			// a real node's maintenance loop would.
			for try := 0; ; try++ {
				err := d.Bootstrap(context.Background(), addrOf(randomLive()))
				if err == nil {
					break
				}
				if try == 3 {
					t.Errorf("bootstrap: %v", err)
					break
				}
			}
			mu.Lock()
			live = append(live, d)
			mu.Unlock()
		})
	}
	live = append(live, newNode())
	join(sc.Nodes - 1)
	simLog("joined", len(live))

	items := make([]simItem, sc.Items)
	for i := range items {
		owner := names[i%nUsers]
		switch {
		case i%4 < 2:
			items[i] = simItem{signer: owner, name: owner, res: resource.Profile + strconv.Itoa(i), value: "v" + strconv.Itoa(i)}
		case i%4 == 2:
			items[i] = simItem{signer: names[(i+1)%nUsers], name: owner, res: resource.Mention, multi: true, value: "mention " + strconv.Itoa(i)}
		default:
			items[i] = simItem{signer: names[(i+2)%nUsers], name: owner, res: resource.Replies(int64(i)), multi: true, value: "reply " + strconv.Itoa(i)}
		}
	}
	// Single resources named profile<i> keep every item on its own
	// target; they behave like any single (they expire like unknown
	// resources, which never happens at a fixed tip).
	var cmu sync.Mutex
	parallel(len(items), func(i int) {
		it := items[i]
		err := randomLive().Put(context.Background(), ks[it.signer], it.signer, it.name, it.res, it.multi, bencode.NewString(it.value), 1, 99)
		cmu.Lock()
		defer cmu.Unlock()
		if err == nil {
			res.PutOK++
		} else {
			res.Queued++
		}
	})
	check := func(record bool) int {
		found := 0
		parallel(len(items), func(i int) {
			it := items[i]
			var st LookupStats
			got, _ := randomLive().Get(context.Background(), it.name, it.res, it.multi, GetOptions{NetworkOnly: true, Stats: &st})
			ok := false
			for _, g := range got {
				if g.V.Kind == bencode.String && string(g.V.Str) == it.value && g.SigUser == it.signer {
					ok = true
				}
			}
			cmu.Lock()
			defer cmu.Unlock()
			if ok {
				found++
			}
			if record {
				res.Rounds = append(res.Rounds, st.Rounds)
				res.Msgs = append(res.Msgs, st.Queries)
			}
		})
		return found
	}
	simLog("puts", res.PutOK, res.Queued)
	res.GetBefore = check(false)
	simLog("before churn", res.GetBefore)

	// Churn: a fraction of the nodes leaves, as many new ones join.
	nChurn := int(float64(sc.Nodes) * sc.Churn)
	rnd.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, d := range live[:nChurn] {
		d.Close()
	}
	live = live[nChurn:]
	join(nChurn)
	time.Sleep(sc.Settle)
	res.GetAfter = check(true)
	simLog("after churn", res.GetAfter)

	for _, d := range live {
		d.Close()
	}
	res.Sent, _, res.Lost = nw.Stats()
	return res
}

// TestSimulation runs the DHT on $TWISTER_DHT_SIM simulated nodes in
// virtual time (20-50 ms latency, 1 % loss): puts of 200 items, gets, 30 %
// churn, an hour and a half of refresh (25 minutes with a 20-minute refresh
// cycle above 2,000 nodes), then gets again. Set TWISTER_DHT_SIM=1000 (or
// 10000) to run it; TWISTER_DHT_SIM_TRACE=1 prints progress.
func TestSimulation(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TWISTER_DHT_SIM"))
	if n <= 0 {
		t.Skip("set TWISTER_DHT_SIM=<nodes> (e.g. 1000 or 10000) to run the simulation")
	}
	items := 200
	if n < 400 {
		items = n / 2
	}
	sc := simConfig{Nodes: n, Items: items, Churn: 0.3, Latency: 20 * time.Millisecond, Jitter: 30 * time.Millisecond,
		Drop: 0.01, Settle: 90 * time.Minute, Parallel: 64}
	if n > 2000 {
		// Keep big runs to a few minutes of CPU: a 20-minute refresh
		// cycle and 25 minutes of settling instead of 60 and 90.
		sc.Refresh, sc.Settle = 20*time.Minute, 25*time.Minute
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		res := runSim(t, sc)
		res.Virtual = time.Since(start)
		t.Log(res)
		if rate := float64(res.GetAfter) / float64(res.Items); rate < 0.995 {
			t.Errorf("success after churn %.2f%% < 99.5%%", 100*rate)
		}
		y := slices.Clone(res.Rounds)
		slices.Sort(y)
		if y[len(y)/2] > 4 {
			t.Errorf("median rounds %d > 4", y[len(y)/2])
		}
	})
}

// BenchmarkGet measures one Get on a 300-node in-memory network (no
// latency), reporting rounds and queries per lookup.
func BenchmarkGet(b *testing.B) {
	ks, ch := users(b, "alice")
	nw := memnet.New(memnet.Config{})
	var nodes []*DHT
	for i := 0; i < 300; i++ {
		conn, _ := nw.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{30, byte(i / 250), byte(i % 250), 1}), 1))
		d := startNode(b, conn, ch, nil)
		if i > 0 {
			if err := d.Bootstrap(context.Background(), addrOf(nodes[rand.IntN(len(nodes))])); err != nil {
				b.Fatal(err)
			}
		}
		nodes = append(nodes, d)
	}
	const nItems = 20
	for i := 0; i < nItems; i++ {
		if err := nodes[i].Put(context.Background(), ks["alice"], "alice", "alice", "item"+strconv.Itoa(i), false, bencode.NewString("x"), 1, 99); err != nil {
			b.Fatal(err)
		}
	}
	var rounds, msgs, found int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var st LookupStats
		got, _ := nodes[(i*31)%len(nodes)].Get(context.Background(), "alice", "item"+strconv.Itoa(i%nItems), false, GetOptions{NetworkOnly: true, Stats: &st})
		rounds += st.Rounds
		msgs += st.Queries
		found += len(got)
	}
	b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
	b.ReportMetric(float64(msgs)/float64(b.N), "queries/op")
	b.ReportMetric(float64(found)/float64(b.N), "found/op")
}

func simLog(args ...any) {
	if os.Getenv("TWISTER_DHT_SIM_TRACE") != "" {
		fmt.Fprintln(os.Stderr, append([]any{"sim:"}, args...)...)
	}
}
