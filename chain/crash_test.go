package chain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

const crashEnv = "TWISTER_CHAIN_CRASH_DIR"

// TestCrashChild is the child of TestCrashRecovery: it mines blocks with
// registrations, key replacements and reorganisations into the store named
// by the environment until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only run as the child of TestCrashRecovery")
	}
	p := consensus.Regtest
	c, err := Open(dir, p) // fsync on, real clock
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child ready")
	ks := map[string]*keys.PrivateKey{}
	for i := 0; ; i++ {
		name := fmt.Sprintf("u%d_%d", os.Getpid()%1000, i)
		k := mustKey(t)
		if err := c.AcceptTx(registration(t, p, name, k)); err != nil {
			t.Fatal(err)
		}
		ks[name] = k
		if i > 0 {
			prev := fmt.Sprintf("u%d_%d", os.Getpid()%1000, i-1)
			if c.UserExists(prev) {
				nk := mustKey(t)
				if err := c.AcceptTx(replacement(t, p, prev, nk, ks[prev])); err == nil {
					ks[prev] = nk
				}
			}
		}
		if _, err := c.MineBlock(context.Background(), "", nil, ""); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			// Replace the tip by a two-block fork from its parent.
			tip := c.Tip()
			parent := tip.Header.PrevBlock
			when := uint32(max(time.Now().Unix(), c.MedianTimePast()+1))
			f1 := solve(t, childOf(t, parent, tip.Height-1, when, byte(i), registration(t, p, fmt.Sprintf("f%d_%d", os.Getpid()%1000, i), mustKey(t))))
			f2 := solve(t, childOf(t, f1.Hash(), tip.Height, when+1, byte(i)))
			for _, b := range []*consensus.Block{f1, f2} {
				if _, err := c.ProcessBlock(b); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestCrashRecovery kills a mining child process with SIGKILL at random
// moments, then reopens the store, checks it and keeps adding blocks.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	lastHeight := int64(0)
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		if _, err := out.Read(buf); err != nil {
			t.Fatal("child did not start:", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			t.Fatalf("round %d: child stopped by itself: %v", round, err)
		case <-time.After(time.Duration(300+rng.IntN(900)) * time.Millisecond):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited

		c, err := Open(dir, consensus.Regtest)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		if err := c.CheckConsistency(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		h := c.Height()
		if h <= lastHeight {
			t.Logf("round %d: child made no progress (height %d)", round, h)
		}
		// The history of every stored name answers KeyAt.
		for _, name := range c.ListUsernames("u", 1000) {
			if _, err := c.KeyAt(name, -1); err != nil {
				t.Fatalf("round %d: KeyAt(%s): %v", round, name, err)
			}
		}
		for range 3 {
			if _, err := c.MineBlock(context.Background(), "", nil, ""); err != nil {
				t.Fatalf("round %d: mining after recovery: %v", round, err)
			}
		}
		if err := c.CheckConsistency(); err != nil {
			t.Fatalf("round %d after mining: %v", round, err)
		}
		lastHeight = c.Height()
		t.Logf("round %d: killed at height %d, now %d, %d names", round, h, lastHeight, len(c.ListUsernames("", 100000)))
		c.Close()
	}
	if lastHeight < 10 {
		t.Fatalf("only %d blocks in 4 rounds", lastHeight)
	}
}
