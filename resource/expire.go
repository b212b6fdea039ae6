package resource

import "math"

// Ages, in blocks, after which stored DHT items expire
// (BLOCK_AGE_TO_EXPIRE_DHT_ENTRY and BLOCK_AGE_TO_EXPIRE_DHT_POSTS).
const (
	ExpireAge     = 2016 // about two weeks: every item may expire after this
	ExpirePostAge = 8640 // about two months: post<k> items are kept this long
)

// kinds of resources that never expire (m_noExpireResources in twister-core).
const (
	keepSimple   = iota + 1 // kept forever, if nothing follows the name
	keepNumbered            // kept if followed by a number 0..200
	keepRecent              // kept while younger than ExpirePostAge
)

var noExpire = map[string]int{
	Avatar:    keepSimple,
	Profile:   keepSimple,
	Status:    keepSimple,
	followPre: keepNumbered,
	postPre:   keepRecent,
}

// ShouldExpire tells whether a stored DHT item has expired, exactly as
// twister-core's shouldDhtResourceExpire (with the "tip below 1" guard of
// node_impl::has_expired): res is the item's target.r, multi its target.t,
// itemHeight its p.height and tipHeight the current block chain height.
//
//   - Nothing expires while the chain tip is below 1, nor while
//     itemHeight+2016 >= tipHeight.
//   - After that every multi item expires, and a single item expires unless
//     res is "avatar", "profile" or "status" exactly, "following<n>" with n
//     in 0..200, or "post<n>" with itemHeight+8640 >= tipHeight. The number
//     must be decimal digits without leading zeros ("post0" is fine,
//     "post01" is not).
//
// The name part is the longest run of ASCII letters at the start of res. As
// in the reference, the number is read like C's atoi on a 64-bit Linux
// build (saturating at 2^63-1, then truncated to 32 bits), so only absurdly
// long numbers behave oddly. Heights are compared as 64-bit integers.
func ShouldExpire(res string, multi bool, itemHeight, tipHeight int64) bool {
	if tipHeight < 1 {
		return false
	}
	if !(itemHeight+ExpireAge < tipHeight) {
		return false
	}
	if multi {
		return true
	}
	i := 0
	for i < len(res) && isASCIILetter(res[i]) {
		i++
	}
	base, rest := res[:i], res[i:]
	number := int64(-1)
	if rest != "" && !(rest[0] == '0' && len(rest) > 1) {
		if n, ok := cAtoiDigits(rest); ok {
			number = n
		}
	}
	switch noExpire[base] {
	case keepSimple:
		return rest != ""
	case keepNumbered:
		return number < 0 || number > 200
	case keepRecent:
		return number < 0 || itemHeight+ExpirePostAge < tipHeight
	}
	return true
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// cAtoiDigits reads s, which must be all decimal digits, the way glibc's
// atoi does on LP64: strtol saturates at LONG_MAX and the result is
// truncated to a 32-bit int.
func cAtoiDigits(s string) (int64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxInt64-uint64(c-'0'))/10 {
			v = math.MaxInt64
		} else {
			v = v*10 + uint64(c-'0')
		}
	}
	return int64(int32(uint32(v))), true
}
