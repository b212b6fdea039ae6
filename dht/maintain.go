package dht

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

// nextRefresh returns when an item should next be re-put (§3.10):
// RefreshInterval for confirmed items, UnconfirmedInterval for items
// created here that no other node is known to hold, each ±10 %.
func (d *DHT) nextRefresh(now time.Time, confirmed bool) time.Time {
	iv := d.cfg.RefreshInterval
	if !confirmed {
		iv = d.cfg.UnconfirmedInterval
	}
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(iv))
	return now.Add(iv + jitter)
}

// refreshable says whether a held item takes part in the refresh cycle:
// single items, "mention" multi items, and items created here younger than
// LocalItemMaxAge; never expired ones.
func (d *DHT) refreshable(st *stored, now time.Time, tip int64) bool {
	if resource.ShouldExpire(st.res, st.multi, st.height, tip) {
		return false
	}
	if !st.multi || st.res == resource.Mention {
		return true
	}
	return st.local && now.Sub(st.storedAt) < d.cfg.LocalItemMaxAge
}

func (d *DHT) maintain() {
	defer d.wg.Done()
	tick := time.NewTicker(d.cfg.TickInterval)
	defer tick.Stop()
	var lastBoot, lastExpire time.Time
	for {
		kicked := false
		select {
		case <-d.done:
			return
		case <-tick.C:
		case <-d.kick:
			kicked = true
		}
		now := time.Now()
		tip := d.cfg.Chain.Height()
		d.mu.Lock()
		if now.Sub(d.tokens.rotated) >= d.cfg.TokenRotation {
			d.tokens.rotate(now)
		}
		d.store.purgePeers(now, d.cfg.PeerTTL)
		if now.Sub(lastExpire) >= time.Minute {
			d.store.expire(tip)
			lastExpire = now
		}
		var due []*stored
		for _, list := range d.store.items {
			for _, st := range list {
				if st.refreshing {
					continue
				}
				urgent := kicked && st.local && !st.published
				if !urgent && now.Before(st.nextRefresh) {
					continue
				}
				if !d.refreshable(st, now, tip) {
					st.nextRefresh = d.nextRefresh(now, true)
					continue
				}
				st.refreshing = true
				due = append(due, st)
			}
		}
		empty := d.table.count == 0
		boot := append([]netip.AddrPort(nil), d.boot...)
		var stale krpc.ID
		var haveStale bool
		var ping krpc.NodeInfo
		var havePing bool
		if !empty {
			stale, haveStale = d.table.staleBucket(now, d.cfg.BucketRefreshInterval)
			ping, havePing = d.table.oldest(now, d.cfg.BucketRefreshInterval)
		}
		d.mu.Unlock()

		if empty && len(boot) > 0 && now.Sub(lastBoot) >= d.cfg.UnconfirmedInterval {
			lastBoot = now
			d.goTracked(func() {
				ctx, cancel := d.lifeContext()
				defer cancel()
				_ = d.Bootstrap(ctx, boot...)
			})
		}
		if haveStale {
			d.goTracked(func() {
				ctx, cancel := d.lifeContext()
				defer cancel()
				_ = d.refreshTable(ctx, stale)
			})
		}
		if havePing {
			d.goTracked(func() {
				ctx, cancel := d.lifeContext()
				defer cancel()
				_, _ = d.query(ctx, ping.Addr, krpc.Ping, &krpc.Args{})
			})
		}
		for _, st := range due {
			if !d.goTracked(func() { d.refreshItem(st) }) {
				break
			}
		}
	}
}

// lifeContext is a context cancelled when the node closes.
func (d *DHT) lifeContext() (context.Context, context.CancelFunc) {
	return context.WithCancel(d.life)
}

// refreshItem re-puts one held item to the current closest nodes, with the
// original p, sig_p and sig_user.
func (d *DHT) refreshItem(st *stored) {
	select {
	case d.refreshes <- struct{}{}:
	case <-d.done:
		return
	}
	defer func() { <-d.refreshes }()
	ctx, cancel := d.lifeContext()
	defer cancel()
	d.mu.Lock()
	checkConfirm := st.local && !st.confirmed
	d.mu.Unlock()
	n := d.publish(ctx, st, checkConfirm)
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	st.refreshing = false
	if st.local && !st.confirmed && now.Sub(st.storedAt) >= d.cfg.LocalItemMaxAge {
		st.confirmed = true // give up the fast cycle after two days
	}
	st.nextRefresh = d.nextRefresh(now, !(st.local && !st.confirmed))
	if n == 0 && st.local && !st.published {
		d.log.Debug("dht: queued put still unpublished", "item", describe(st))
	}
}

// describe is used in logs.
func describe(st *stored) string {
	var b strings.Builder
	b.WriteString(st.name)
	b.WriteByte('/')
	b.WriteString(st.res)
	if st.multi {
		b.WriteString("/m")
	} else {
		b.WriteString("/s")
	}
	return b.String()
}
