// Command twisterd is a twister node, a drop-in for twister-core's daemon:
// the same flags, default ports and JSON-RPC methods, on the same networks.
//
//	twisterd -regtest -datadir=/tmp/tw -rpcuser=u -rpcpassword=p
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gotwister/twister/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// A node's memory is mostly short-lived decoding garbage: collect it
	// sooner than Go's default unless the operator sets GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	cfg, err := node.ParseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "twisterd:", err)
		return 2
	}
	var logOut io.Writer = stderr
	if cfg.PrintToCons {
		logOut = stdout
	}
	n, err := node.New(cfg, logOut)
	if err != nil {
		fmt.Fprintln(stderr, "twisterd:", err)
		return 1
	}
	if err := n.Start(); err != nil {
		fmt.Fprintln(stderr, "twisterd:", err)
		n.Close()
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
		n.Close()
	case <-n.Done():
	}
	return 0
}
