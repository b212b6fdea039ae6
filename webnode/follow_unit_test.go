package webnode

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// followingPages cuts a list as twisterd's web UI does (full pages, then
// a shorter or empty one that ends the list, at most 50 pages) and pads
// to the previous save's page count with empty pages.
func TestFollowingPages(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("u%05d", i)
		}
		return out
	}
	lens := func(pages [][]string) []int {
		out := make([]int, len(pages))
		for i, p := range pages {
			out[i] = len(p)
		}
		return out
	}
	for _, c := range []struct {
		names, prev int
		want        []int
	}{
		{0, 0, []int{0}},
		{1, 0, []int{1}},
		{199, 0, []int{199}},
		{200, 0, []int{200, 0}},
		{201, 0, []int{200, 1}},
		{450, 0, []int{200, 200, 50}},
		{1, 3, []int{1, 0, 0}},  // emptied pages overwritten
		{201, 1, []int{200, 1}}, // more pages than before
		{10000, 0, slices.Repeat([]int{200}, 50)},
		{10050, 60, slices.Repeat([]int{200}, 50)}, // at most 50 pages
	} {
		names := many(c.names)
		pages := followingPages(names, followingPageSize, c.prev)
		if !slices.Equal(lens(pages), c.want) {
			t.Errorf("%d names, %d pages before: page sizes %v, want %v", c.names, c.prev, lens(pages), c.want)
			continue
		}
		var all []string
		for _, p := range pages {
			all = append(all, p...)
		}
		if n := min(c.names, 50*followingPageSize); !slices.Equal(all, names[:n]) {
			t.Errorf("%d names: pages do not hold the names in order", c.names)
		}
	}
}

// The stored follow list: the current record round-trips with its
// private flags; a record of an older version (a bare array of names,
// never published) reads as private follows; bad names and duplicates
// are dropped; garbage is an error.
func TestDecodeFollows(t *testing.T) {
	users, private, err := decodeFollows(encodeFollows([]string{"bob", "carol", "dave"}, map[string]bool{"carol": true, "zed": true}))
	if err != nil || !slices.Equal(users, []string{"bob", "carol", "dave"}) || !maps.Equal(private, map[string]bool{"carol": true}) {
		t.Errorf("round trip: %v %v %v", users, private, err)
	}
	users, private, err = decodeFollows([]byte(`["dave","bob","Bad Name","bob"]`))
	if err != nil || !slices.Equal(users, []string{"bob", "dave"}) || !maps.Equal(private, map[string]bool{"bob": true, "dave": true}) {
		t.Errorf("legacy list: %v %v %v", users, private, err)
	}
	users, private, err = decodeFollows([]byte(`{"users":["carol","alice"],"private":["alice","mallory"]}`))
	if err != nil || !slices.Equal(users, []string{"alice", "carol"}) || !maps.Equal(private, map[string]bool{"alice": true}) {
		t.Errorf("record: %v %v %v", users, private, err)
	}
	if users, _, err := decodeFollows(encodeFollows(nil, nil)); err != nil || len(users) != 0 {
		t.Errorf("empty: %v %v", users, err)
	}
	for _, bad := range []string{``, `{`, `[1,2]`, `{"users":"bob"}`, `null x`} {
		if _, _, err := decodeFollows([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzDecodeFollows: a stored follow list never panics the decoder; what
// it keeps is valid names, sorted, each once, and private flags only for
// those; encoding it again and decoding gives the same.
func FuzzDecodeFollows(f *testing.F) {
	f.Add([]byte(`{"users":["bob","carol"],"private":["carol"]}`))
	f.Add([]byte(`["bob","dave"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, private, err := decodeFollows(b)
		if err != nil {
			return
		}
		if !slices.IsSorted(users) || len(slices.Compact(slices.Clone(users))) != len(users) {
			t.Fatalf("users %q", users)
		}
		for u := range private {
			if _, ok := slices.BinarySearch(users, u); !ok {
				t.Fatalf("private %q not followed", u)
			}
		}
		u2, p2, err := decodeFollows(encodeFollows(users, private))
		if err != nil || !slices.Equal(u2, users) || !maps.Equal(p2, private) {
			t.Fatalf("re-encoded: %v %v %v (was %v %v)", u2, p2, err, users, private)
		}
	})
}

// needsPublish: a list the DHT holds already is not put again; a device
// that never published a user's list does not publish it at login or on
// the periodic retry, nor an empty list over one it has not seen; once
// it published or merged a list it may publish an emptied one.
func TestNeedsPublish(t *testing.T) {
	for _, c := range []struct {
		name      string
		p         followPub
		names     []string
		retryOnly bool
		want      bool
	}{
		{"published already", followPub{Seq: 9, Names: []string{"bob"}, Done: true}, []string{"bob"}, false, false},
		{"changed", followPub{Seq: 9, Names: []string{"bob"}, Done: true}, []string{"bob", "carol"}, false, true},
		{"failed put retried", followPub{Seq: 9, Names: []string{"bob"}}, []string{"bob"}, true, true},
		{"never published: no retry", followPub{}, []string{"bob"}, true, false},
		{"never published: a change", followPub{}, []string{"bob"}, false, true},
		{"never published or merged: not an empty list", followPub{}, []string{}, false, false},
		{"merged: the change empties it", followPub{Merged: 7, Names: []string{"bob"}, Done: true}, []string{}, false, true},
		{"merged only: no retry", followPub{Merged: 7, Names: []string{"bob"}, Done: true}, []string{"bob", "carol"}, true, false},
		{"merged and equal", followPub{Merged: 7, Names: []string{"bob"}, Done: true}, []string{"bob"}, false, false},
	} {
		if got := c.p.needsPublish(c.names, c.retryOnly); got != c.want {
			t.Errorf("%s: needsPublish = %v, want %v", c.name, got, c.want)
		}
	}
	if s := (&followPub{Seq: 5, Merged: 8}).seen(); s != 8 {
		t.Errorf("seen %d, want 8", s)
	}
}
