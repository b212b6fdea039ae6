//go:build !js

package webnode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/p2p"
	"github.com/gotwister/twister/node"
)

// twisterd is a native twister node (package node) joined to a
// webnodetest network: its chain syncs over P2P from the network's chain,
// its DHT node bootstraps from the network's DHT, and it is driven through
// its JSON-RPC as twisterd's web UI drives it.
type twisterd struct {
	*node.Node
	t   *testing.T
	url string
}

func startTwisterd(t *testing.T, tn *testnet, addr string) *twisterd {
	t.Helper()
	pl, err := net.Listen("tcp", "127.0.97.2:0")
	if err != nil {
		t.Fatal(err)
	}
	pn, err := p2p.New(p2p.Config{Params: consensus.Regtest, Chain: tn.Chain, Listen: pl, MaxOutbound: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := pn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pn.Close() })
	port := func() int {
		for {
			l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
			if err != nil {
				t.Fatal(err)
			}
			p := l.Addr().(*net.TCPAddr).Port
			l.Close()
			if p+node.LibtorrentPortOffset > 65535 {
				continue
			}
			u, err := net.ListenPacket("udp", net.JoinHostPort(addr, fmt.Sprint(p+node.LibtorrentPortOffset)))
			if err != nil {
				continue
			}
			u.Close()
			return p
		}
	}
	cfg, err := node.ParseArgs([]string{"-regtest", "-datadir=" + t.TempDir(), "-rpcuser=u", "-rpcpassword=p",
		"-bind=" + addr, "-rpcbind=" + addr, fmt.Sprintf("-port=%d", port()), fmt.Sprintf("-rpcport=%d", port()),
		"-connect=" + pl.Addr().String(), "-dhtnode=" + tn.DHTs[0].LocalAddr().String()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	d := &twisterd{Node: n, t: t, url: "http://" + n.RPCAddr() + "/"}
	waitFor(t, 30*time.Second, "twisterd's chain to sync", func() bool { return n.Chain.Height() == tn.Chain.Height() })
	return d
}

// rpc calls a JSON-RPC method and decodes the result into out.
func (d *twisterd) rpc(out any, method string, params ...any) {
	d.t.Helper()
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	req, _ := http.NewRequest("POST", d.url, bytes.NewReader(body))
	req.SetBasicAuth("u", "p")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		d.t.Fatalf("twisterd %s: %v", method, err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		d.t.Fatalf("twisterd %s: %v", method, err)
	}
	if r.Error != nil {
		d.t.Fatalf("twisterd %s %v: error %d %s", method, params, r.Error.Code, r.Error.Message)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			d.t.Fatalf("twisterd %s: result %s: %v", method, r.Result, err)
		}
	}
}

// groupTexts returns "from: text" of twisterd's stored messages of a group.
func (d *twisterd) groupTexts(local, alias string) []string {
	var got map[string][]struct {
		Text string
		From string
	}
	d.rpc(&got, "getdirectmsgs", local, 50, []map[string]any{{"username": alias}})
	var out []string
	for _, m := range got[alias] {
		out = append(out, m.From+": "+m.Text)
	}
	return out
}

// A twisterd user (nat) and a browser node user (webby) in group chats
// both ways: nat creates a group with twisterd's RPCs and invites webby,
// each writes to it and reads the other's message; then webby creates a
// group in the browser node and invites nat, whose twisterd registers it
// and reads webby's message.
func TestGroupChatWithTwisterd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a native twisterd")
	}
	tn := newTestnet(t, "nat", "webby")
	d := startTwisterd(t, tn, "127.0.97.1")
	d.rpc(nil, "importprivkey", userKey("nat").Secret(), "nat")
	d.rpc(nil, "follow", "nat", []string{"nat", "webby"})

	var alias string
	d.rpc(&alias, "creategroup", "nat and webby")
	d.rpc(nil, "newgroupinvite", "nat", d.LastHave("nat")+1, alias, []string{"nat", "webby"})

	n, _ := tn.newWebnode(nil, nil)
	ctx := ctxT(t, 120*time.Second)
	if err := n.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	if err := n.Follow(ctx, "nat"); err != nil {
		t.Fatal(err)
	}
	var bAlias string
	waitFor(t, 60*time.Second, "twisterd's invitation in the browser node", func() bool {
		gs, _ := n.Groups()
		if len(gs) == 1 && slices.Equal(gs[0].Members, []string{"nat", "webby"}) {
			bAlias = gs[0].Alias
			return gs[0].Description == "nat and webby"
		}
		return false
	})

	// twisterd → browser.
	d.rpc(nil, "newdirectmsg", "nat", d.LastHave("nat")+1, alias, "hello from twisterd")
	waitFor(t, 60*time.Second, "twisterd's group message in the browser node", func() bool {
		ms, _ := n.GroupMessages(bAlias)
		return slices.Contains(texts(ms), "nat: hello from twisterd")
	})
	// browser → twisterd.
	if _, err := n.GroupMessage(ctx, bAlias, "hello from the browser"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the browser's group message in twisterd", func() bool {
		return slices.Contains(d.groupTexts("nat", alias), "webby: hello from the browser")
	})
	t.Logf("twisterd's group %s: %v", alias, d.groupTexts("nat", alias))

	// A group made in the browser node, joined by twisterd.
	mine, err := n.CreateGroup(ctx, "made in a browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.GroupInvite(ctx, mine, []string{"nat"}); err != nil {
		t.Fatal(err)
	}
	var natAlias string
	waitFor(t, 60*time.Second, "the browser's group in twisterd", func() bool {
		var list []string
		d.rpc(&list, "listgroups")
		for _, a := range list {
			var info struct {
				Description string
				Members     []string
			}
			d.rpc(&info, "getgroupinfo", a)
			if info.Description == "made in a browser" && slices.Contains(info.Members, "webby") && slices.Contains(info.Members, "nat") {
				natAlias = a
				return true
			}
		}
		return false
	})
	if _, err := n.GroupMessage(ctx, mine, "in the browser's group"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the message in twisterd", func() bool {
		return slices.Contains(d.groupTexts("nat", natAlias), "webby: in the browser's group")
	})
	d.rpc(nil, "newdirectmsg", "nat", d.LastHave("nat")+1, natAlias, "twisterd answers")
	waitFor(t, 60*time.Second, "twisterd's answer in the browser node", func() bool {
		ms, _ := n.GroupMessages(mine)
		return slices.Contains(texts(ms), "nat: twisterd answers")
	})
}
