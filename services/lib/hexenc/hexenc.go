package hexenc

import (
	"encoding/binary"
	"slices"
)

// pairs holds the two lowercase hex digits of every byte value, packed
// little-endian so one uint16 store writes them in order.
var pairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&0x0f])<<8
	}
	return t
}()

// AppendEncode appends the lowercase hex encoding of src to dst, like
// encoding/hex.AppendEncode.
func AppendEncode(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(src))[:n+2*len(src)]
	out := dst[n:]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		s := src[i : i+4 : i+4]
		binary.LittleEndian.PutUint64(out[2*i:], uint64(pairs[s[0]])|uint64(pairs[s[1]])<<16|uint64(pairs[s[2]])<<32|uint64(pairs[s[3]])<<48)
	}
	for ; i < len(src); i++ {
		binary.LittleEndian.PutUint16(out[2*i:], pairs[src[i]])
	}
	return dst
}
