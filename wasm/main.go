//go:build js && wasm

// Command wasm is the twister browser node's WebAssembly program. It runs
// in a Web Worker (web/js/worker.js loads wasm_exec.js and twister.wasm)
// and wraps a webnode.Node behind a message protocol: the worker hands it
// requests {id, method, params} as JSON through globalThis.__twisterCall,
// and it answers {id, result} or {id, error} and sends events
// {event, data} through globalThis.__twisterPost. Every request runs in its
// own goroutine, so proof-of-work and signature checks never block the
// page (they run in the worker) nor each other. The methods and events are
// documented in web/js/README.md; web/js/twister.js wraps them in promises.
//
// Build: GOOS=js GOARCH=wasm go build -o twister.wasm ./wasm
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall/js"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/webnode"
)

type request struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type response struct {
	ID     int64  `json:"id"`
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

type event struct {
	Event string `json:"event"`
	Data  any    `json:"data"`
}

// startParams are the parameters of "start".
type startParams struct {
	Bridges   []string `json:"bridges"`
	Signaling string   `json:"signaling"`
	WebRTC    bool     `json:"webrtc"`
	// ICEServers are STUN/TURN URLs for WebRTC (default none).
	ICEServers []string `json:"iceServers"`
	Network    string   `json:"network"` // "main" (default) or "regtest"
	// DB is the IndexedDB database name; default "twister". "" with
	// Memory set keeps everything in memory.
	DB     string `json:"db"`
	Memory bool   `json:"memory"`
	Debug  bool   `json:"debug"` // debug logs on the worker's console
}

var (
	mu   sync.Mutex
	node *webnode.Node
)

func post(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(event{Event: "error", Data: "cannot encode: " + err.Error()})
	}
	js.Global().Call("__twisterPost", string(b))
}

func main() {
	js.Global().Set("__twisterCall", js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) != 1 || args[0].Type() != js.TypeString {
			return nil
		}
		msg := args[0].String()
		go handle(msg) // never block inside a js.FuncOf callback
		return nil
	}))
	if r := js.Global().Get("__twisterReady"); r.Type() == js.TypeFunction {
		r.Invoke()
	}
	select {}
}

func handle(msg string) {
	var req request
	if err := json.Unmarshal([]byte(msg), &req); err != nil {
		post(event{Event: "error", Data: "bad request: " + err.Error()})
		return
	}
	res, err := dispatch(req.Method, req.Params)
	r := response{ID: req.ID, Result: res}
	if err != nil {
		r.Error = err.Error()
		r.Result = nil
	} else if res == nil {
		r.Result = true
	}
	post(r)
}

func params[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("bad params: %w", err)
	}
	return v, nil
}

type userK struct {
	User    string `json:"user"`
	K       int64  `json:"k"`
	Text    string `json:"text"`
	Comment string `json:"comment"`
	Private bool   `json:"private"`
}

func dispatch(method string, raw json.RawMessage) (any, error) {
	// Accounts, registration and the key store (accounts.go); "start"
	// opens the key store there first.
	if res, ok, err := accountMethod(method, raw); ok {
		return res, err
	}
	if method == "start" {
		return nil, start(raw)
	}
	mu.Lock()
	n := node
	mu.Unlock()
	if n == nil {
		return nil, errors.New("twister: call start first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Other users' data, conversations, group chats, promoted posts
	// (social.go).
	if res, ok, err := socialMethod(ctx, n, method, raw); ok {
		return res, err
	}
	switch method {
	case "login":
		p, err := params[struct{ User, Secret string }](raw)
		if err != nil {
			return nil, err
		}
		return nil, n.LoginSecret(ctx, p.User, p.Secret)
	case "logout":
		n.Logout()
		return nil, nil
	case "follow", "unfollow":
		// public: listed in the user's following<n> (default, as
		// twister-html), or false for a follow kept on the device.
		p, err := params[struct {
			User   string
			Public *bool
		}](raw)
		if err != nil {
			return nil, err
		}
		if method == "follow" {
			return n.FollowUser(ctx, p.User, p.Public == nil || *p.Public)
		}
		return n.UnfollowUser(ctx, p.User)
	case "following":
		return n.Following(), nil
	case "follows":
		return n.Follows(), nil
	case "followSync":
		// The merge of the logged-in user's following list from the
		// DHT (null when nobody is logged in).
		return n.FollowSync(), nil
	case "timeline":
		o, err := params[webnode.TimelineOptions](raw)
		if err != nil {
			return nil, err
		}
		return n.Timeline(o)
	case "post":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Post(ctx, p.Text)
	case "reply":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Reply(ctx, p.User, p.K, p.Text)
	case "retwist":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Retwist(ctx, p.User, p.K, p.Comment)
	case "favorite":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Favorite(ctx, p.User, p.K, webnode.FavoriteOptions{Private: p.Private, Comment: p.Comment})
	case "dm":
		p, err := params[struct{ To, Text string }](raw)
		if err != nil {
			return nil, err
		}
		return n.DM(ctx, p.To, p.Text)
	case "dms":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.DMs(p.User)
	case "profile":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Profile(ctx, p.User)
	case "setProfile":
		p, err := params[webnode.ProfileUpdate](raw)
		if err != nil {
			return nil, err
		}
		return n.SetProfile(ctx, p)
	case "mentions":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Mentions(ctx, p.User)
	case "hashtag":
		p, err := params[struct{ Tag string }](raw)
		if err != nil {
			return nil, err
		}
		return n.Hashtag(ctx, p.Tag)
	case "replies":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.Replies(ctx, p.User, p.K)
	case "getPost":
		p, err := params[userK](raw)
		if err != nil {
			return nil, err
		}
		return n.GetPost(ctx, p.User, p.K)
	case "status":
		return n.Status(), nil
	case "reverify":
		ok, failed, took := n.Reverify()
		return map[string]any{"ok": ok, "failed": failed, "ms": float64(took.Microseconds()) / 1000}, nil
	}
	return nil, fmt.Errorf("twister: unknown method %q", method)
}

func start(raw json.RawMessage) error {
	p, err := params[startParams](raw)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if node != nil {
		return errors.New("twister: already started")
	}
	cfg := webnode.Config{
		Bridges:      p.Bridges,
		Signaling:    p.Signaling,
		EnableWebRTC: p.WebRTC,
		ICEServers:   p.ICEServers,
		OnEvent:      func(e webnode.Event) { post(event{Event: e.Kind, Data: e.Data}) },
	}
	switch p.Network {
	case "", "main", "mainnet":
		cfg.Params = consensus.Mainnet
	case "regtest":
		cfg.Params = consensus.Regtest
	default:
		return fmt.Errorf("twister: unknown network %q (main or regtest)", p.Network)
	}
	if p.Debug {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if !p.Memory {
		name := p.DB
		if name == "" {
			name = "twister"
		}
		st, err := webnode.OpenIDBStore(ctx, name)
		if err != nil {
			return err
		}
		cfg.Store = st
	}
	n, err := webnode.New(cfg)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		return err
	}
	node = n
	return nil
}
