package sim

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// newRand returns the random stream named stream of one chain. Streams are
// independent, so adding draws to one never shifts another.
func newRand(seed int64, chainID uint64, stream string) *rand.Rand {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[0:], uint64(seed))
	binary.BigEndian.PutUint64(buf[8:], chainID)
	h := crypto.Keccak256(buf[:], []byte(stream))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(h[0:8]), binary.BigEndian.Uint64(h[8:16])))
}

// derivedHash returns keccak256(seed, chainID, kind, a, b): tx hashes and
// actor addresses.
func derivedHash(seed int64, chainID uint64, kind string, a, b uint64) common.Hash {
	var buf [32]byte
	binary.BigEndian.PutUint64(buf[0:], uint64(seed))
	binary.BigEndian.PutUint64(buf[8:], chainID)
	binary.BigEndian.PutUint64(buf[16:], a)
	binary.BigEndian.PutUint64(buf[24:], b)
	return common.BytesToHash(crypto.Keccak256([]byte(kind), buf[:]))
}

// derivedAddress is derivedHash truncated to an address.
func derivedAddress(seed int64, chainID uint64, kind string, i uint64) common.Address {
	return common.BytesToAddress(derivedHash(seed, chainID, kind, i, 0).Bytes()[12:])
}

// pickWeighted returns an index drawn with probability proportional to
// weight(i), skipping index skip (-1 for none). It returns -1 when every
// eligible weight is zero.
func pickWeighted(r *rand.Rand, n int, weight func(int) int, skip int) int {
	total := 0
	for i := 0; i < n; i++ {
		if i != skip {
			total += weight(i)
		}
	}
	if total == 0 {
		return -1
	}
	x := r.IntN(total)
	for i := 0; i < n; i++ {
		if i == skip {
			continue
		}
		if x -= weight(i); x < 0 {
			return i
		}
	}
	return -1
}
