package node

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// The DHT's state (node id, known nodes, held items) is kept in
// dht_state.dat beside the index, as twisterd keeps its session state: it
// is written when the node stops and every stateSaveInterval, and read
// when it starts, so a restart neither forgets the items others stored
// here nor this node's own unconfirmed ones.
const (
	dhtStateFile      = "dht_state.dat"
	stateSaveInterval = 10 * time.Minute
)

// loadDHTState restores the saved state, if any, and returns the saved
// nodes to bootstrap from. A damaged file is set aside, not fatal.
func (n *Node) loadDHTState() []netip.AddrPort {
	path := filepath.Join(n.cfg.NetDir(), dhtStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		ls, lerr := n.net.DHT.LoadState(bytes.NewReader(b))
		if lerr == nil {
			n.log.Info("DHT state restored", "items", ls.Items, "dropped", ls.Dropped, "nodes", len(ls.Nodes), "same_id", ls.KeptID)
			return ls.Nodes
		}
		err = lerr
	}
	n.log.Warn("the saved DHT state cannot be read; starting without it", "file", path, "err", err)
	os.Rename(path, path+".bad")
	return nil
}

// saveDHTState writes the state atomically (a temporary file, synced, then
// renamed over the old one).
func (n *Node) saveDHTState() error {
	var buf bytes.Buffer
	if err := n.net.DHT.SaveState(&buf); err != nil {
		return err
	}
	path := filepath.Join(n.cfg.NetDir(), dhtStateFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving the DHT state: %w", err)
	}
	return nil
}

// every runs fn every d until the node stops.
func (n *Node) every(d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
