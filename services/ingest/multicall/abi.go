package multicall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
)

// Address is Multicall3's canonical address, the same on every chain it is
// deployed on (https://github.com/mds1/multicall3).
var Address = common.HexToAddress("0xcA11bde05977b3631167028862bE2a173976CA11")

// SelAggregate3 is aggregate3((address,bool,bytes)[]).
var SelAggregate3 = [4]byte{0x82, 0xad, 0x56, 0xcb}

// Call3 is one inner call of aggregate3.
type Call3 struct {
	Target       common.Address
	AllowFailure bool
	CallData     []byte
}

// Result is one inner answer of aggregate3.
type Result struct {
	Success    bool
	ReturnData []byte
}

// ErrMalformed is wrapped by DecodeAggregate3's errors.
var ErrMalformed = errors.New("malformed aggregate3 result")

func padded(n int) int { return (n + 31) &^ 31 }

func putWord(b []byte, v uint64) {
	clear(b[:24])
	binary.BigEndian.PutUint64(b[24:32], v)
}

// EncodeAggregate3 returns the calldata of aggregate3(calls).
func EncodeAggregate3(calls []Call3) []byte {
	// selector | offset(0x20) | n | n tuple offsets | tuples
	size := 4 + 32 + 32 + 32*len(calls)
	for _, c := range calls {
		size += 32*4 + padded(len(c.CallData))
	}
	out := make([]byte, size)
	copy(out, SelAggregate3[:])
	b := out[4:]
	putWord(b[0:], 0x20)
	putWord(b[32:], uint64(len(calls)))
	heads := b[64:]
	at := 32 * len(calls) // tuple offsets count from the first offset word
	for i, c := range calls {
		putWord(heads[32*i:], uint64(at))
		t := heads[at:]
		copy(t[12:32], c.Target[:])
		if c.AllowFailure {
			t[63] = 1
		}
		putWord(t[64:], 0x60)
		putWord(t[96:], uint64(len(c.CallData)))
		copy(t[128:], c.CallData)
		at += 32*4 + padded(len(c.CallData))
	}
	return out
}

// word reads the 32-byte word at off as an int that must fit the data.
func word(b []byte, off int) (int, error) {
	if off < 0 || off > len(b)-32 {
		return 0, fmt.Errorf("%w: word at %d past the end (%d bytes)", ErrMalformed, off, len(b))
	}
	w := b[off : off+32]
	for _, x := range w[:24] {
		if x != 0 {
			return 0, fmt.Errorf("%w: value at %d does not fit", ErrMalformed, off)
		}
	}
	v := binary.BigEndian.Uint64(w[24:])
	if v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: value at %d does not fit", ErrMalformed, off)
	}
	return int(v), nil
}

// DecodeAggregate3 decodes aggregate3's return data, a
// (bool success, bytes returnData)[]. It checks every offset and length
// against the data and never panics; want is the number of calls sent.
func DecodeAggregate3(data []byte, want int) ([]Result, error) {
	base, err := word(data, 0)
	if err != nil {
		return nil, err
	}
	n, err := word(data, base)
	if err != nil {
		return nil, err
	}
	if n != want {
		return nil, fmt.Errorf("%w: %d results for %d calls", ErrMalformed, n, want)
	}
	heads := base + 32
	if n > (len(data)-heads)/32 {
		return nil, fmt.Errorf("%w: %d results do not fit %d bytes", ErrMalformed, n, len(data))
	}
	out := make([]Result, n)
	for i := range n {
		rel, err := word(data, heads+32*i)
		if err != nil {
			return nil, err
		}
		t := heads + rel
		ok, err := word(data, t)
		if err != nil {
			return nil, err
		}
		if ok > 1 {
			return nil, fmt.Errorf("%w: result %d success flag is %d", ErrMalformed, i, ok)
		}
		dataRel, err := word(data, t+32)
		if err != nil {
			return nil, err
		}
		l, err := word(data, t+dataRel)
		if err != nil {
			return nil, err
		}
		start := t + dataRel + 32
		if l > len(data)-start {
			return nil, fmt.Errorf("%w: result %d return data of %d bytes past the end", ErrMalformed, i, l)
		}
		out[i] = Result{Success: ok == 1, ReturnData: data[start : start+l : start+l]}
	}
	return out, nil
}
