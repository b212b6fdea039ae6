package resource

import "testing"

func TestShouldExpire(t *testing.T) {
	const tip = 10000
	old := int64(tip - ExpireAge - 1) // just old enough to expire
	fresh := int64(tip - ExpireAge)   // height+2016 == tip: not yet
	ancient := int64(tip - ExpirePostAge - 1)
	cases := []struct {
		res    string
		multi  bool
		height int64
		tip    int64
		want   bool
	}{
		// Young items never expire, whatever they are.
		{"mention", true, fresh, tip, false},
		{"whatever", false, fresh, tip, false},
		{"post5", false, tip, tip, false},
		// A chain below height 1 expires nothing.
		{"mention", true, -5000, 0, false},
		{"junk", false, -5000, 0, false},
		{"junk", false, -5000, -1, false},
		// Old multi items always expire.
		{"mention", true, old, tip, true},
		{"hashtag", true, old, tip, true},
		{"profile", true, old, tip, true},
		{"tracker", true, old, tip, true},
		// Simple resources: kept only without a suffix.
		{"avatar", false, old, tip, false},
		{"profile", false, old, tip, false},
		{"status", false, old, tip, false},
		{"status", false, ancient, tip, false},
		{"status1", false, old, tip, true},
		{"profile0", false, old, tip, true},
		{"avatarx", false, old, tip, true}, // prefix "avatarx" is unknown
		{"avatar_", false, old, tip, true},
		{"Status", false, old, tip, true}, // case matters
		// following<n>: n in 0..200, no leading zeros.
		{"following", false, old, tip, true},
		{"following0", false, old, tip, false},
		{"following1", false, old, tip, false},
		{"following200", false, old, tip, false},
		{"following201", false, old, tip, true},
		{"following01", false, old, tip, true},
		{"following00", false, old, tip, true},
		{"following-1", false, old, tip, true},
		{"following1x", false, old, tip, true},
		{"following4294967297", false, old, tip, false}, // atoi truncation: 2^32+1 reads as 1
		{"following99999999999999999999", false, old, tip, true},
		// post<n>: a valid number and younger than 8640 blocks.
		{"post1", false, old, tip, false},
		{"post0", false, old, tip, false},
		{"post123456", false, old, tip, false},
		{"post1", false, ancient, tip, true},
		{"post1", false, tip - ExpirePostAge, tip, false}, // height+8640 == tip: kept
		{"post", false, old, tip, true},
		{"post01", false, old, tip, true},
		{"post1a", false, old, tip, true},
		{"post 1", false, old, tip, true},
		{"post2147483648", false, old, tip, true}, // atoi truncation: 2^31 reads as negative
		{"post99999999999999999999", false, old, tip, true},
		// Anything else expires.
		{"", false, old, tip, true},
		{"replies1", false, old, tip, true},
		{"rts1", false, old, tip, true},
		{"swarm", false, old, tip, true},
		{"tracker", false, old, tip, true},
		{"1post", false, old, tip, true},
		{"pöst1", false, old, tip, true},
	}
	for _, c := range cases {
		if got := ShouldExpire(c.res, c.multi, c.height, c.tip); got != c.want {
			t.Errorf("ShouldExpire(%q, multi=%v, height=%d, tip=%d) = %v, want %v",
				c.res, c.multi, c.height, c.tip, got, c.want)
		}
	}
}

func TestCAtoiDigits(t *testing.T) {
	cases := map[string]int64{
		"0":                    0,
		"200":                  200,
		"2147483647":           2147483647,
		"2147483648":           -2147483648,
		"4294967296":           0,
		"9223372036854775807":  -1,
		"99999999999999999999": -1,
	}
	for in, want := range cases {
		if got, ok := cAtoiDigits(in); !ok || got != want {
			t.Errorf("cAtoiDigits(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if _, ok := cAtoiDigits("12a"); ok {
		t.Errorf("cAtoiDigits accepted a non-digit")
	}
}
