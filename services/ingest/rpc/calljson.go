package rpc

// appendCallResult decodes an eth_call result — a JSON string of
// 0x-prefixed hex — and appends the bytes to dst. It accepts exactly what
// encoding/json into hexutil.Bytes accepts, with the same bytes
// (differential and fuzz tests): a string holding "0x" (or "0X") and an even
// number of hex digits, or "" (no bytes); surrounding JSON white space. null,
// other types, a missing prefix, an odd length, a non-hex digit and any
// escape are errors (*scanError).
func appendCallResult(dst, data []byte) ([]byte, error) {
	s := scanner{buf: data}
	s.ws()
	if !s.next('"') {
		return dst, s.fail("%s, want a hex string", s.describe())
	}
	digits, at, err := s.hexData()
	if err != nil {
		return dst, err
	}
	if err := s.end("the result"); err != nil {
		return dst, err
	}
	n := len(dst)
	dst = append(dst, make([]byte, len(digits)/2)...)
	if err := s.decodeHex(dst[n:], digits, at); err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// callResultSize is the length of the bytes of a well-formed eth_call
// result without white space: "0x…" holds (len-4)/2 bytes.
func callResultSize(data []byte) int { return max(0, (len(data)-4)/2) }
