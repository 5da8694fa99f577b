package sim

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// chainSpec is the fixed description of one simulated chain. Anchors are
// approximations of the real chains' block numbers at 2026-01-01T00:00:00Z.
type chainSpec struct {
	slug     string
	anchorN  uint64 // block number at anchorTime
	blockMs  int64  // block time in milliseconds
	gasLimit uint64
	// volume is the number of liquidations over the default window at scale 1.
	volume float64
	// medianUSD and sigma shape the lognormal size of one liquidation (debt USD).
	medianUSD, sigma float64
	// multicall3Block is the block Multicall3 was deployed at (viem's
	// contracts.multicall3.blockCreated).
	multicall3Block uint64
}

// chainSpecs is a read-only table of the simulated chains, keyed by chain id.
var chainSpecs = map[uint64]chainSpec{
	1:     {slug: "ethereum", anchorN: 24_130_000, blockMs: 12_000, gasLimit: 60_000_000, volume: 5_000, medianUSD: 18_000, sigma: 1.5, multicall3Block: 14_353_601},
	137:   {slug: "polygon", anchorN: 81_000_000, blockMs: 2_000, gasLimit: 45_000_000, volume: 12_500, medianUSD: 250, sigma: 1.4, multicall3Block: 25_770_160},
	43114: {slug: "avalanche", anchorN: 74_000_000, blockMs: 1_500, gasLimit: 15_000_000, volume: 3_500, medianUSD: 1_200, sigma: 1.5, multicall3Block: 11_907_934},
	42161: {slug: "arbitrum", anchorN: 416_000_000, blockMs: 250, gasLimit: 32_000_000, volume: 6_500, medianUSD: 1_500, sigma: 1.5, multicall3Block: 7_654_707},
	8453:  {slug: "base", anchorN: 40_300_000, blockMs: 2_000, gasLimit: 150_000_000, volume: 5_000, medianUSD: 1_000, sigma: 1.5, multicall3Block: 5_022},
}

// anchorTime is the timestamp of every chain's anchor block.
const anchorTime int64 = 1767225600 // 2026-01-01T00:00:00Z

// clock maps block numbers to timestamps and back for one chain.
type clock struct {
	anchorN uint64
	blockMs int64
}

// time returns the timestamp (unix seconds) of block n.
func (c clock) time(n uint64) int64 {
	d := (int64(n) - int64(c.anchorN)) * c.blockMs
	return anchorTime + floorDiv(d, 1000)
}

// blockAt returns the first block whose timestamp is >= t (unix seconds).
func (c clock) blockAt(t int64) uint64 {
	// time(n) >= t  ⟺  (n-anchorN)·ms >= (t-anchorTime)·1000.
	n := int64(c.anchorN) + ceilDiv((t-anchorTime)*1000, c.blockMs)
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// hasher derives block hashes for one chain.
type hasher struct {
	seed    int64
	chainID uint64
}

// hash returns the hash of block n: the first 24 bytes of keccak256(seed,
// chainID, n) followed by n encrypted with a keyed 64-bit permutation, so
// number(hash) can recover n and verify the rest.
func (h hasher) hash(n uint64) common.Hash {
	var buf [24]byte
	binary.BigEndian.PutUint64(buf[0:], uint64(h.seed))
	binary.BigEndian.PutUint64(buf[8:], h.chainID)
	binary.BigEndian.PutUint64(buf[16:], n)
	out := keccak(buf[:])
	binary.BigEndian.PutUint64(out[24:32], h.permute(n, false))
	return out
}

// keccakPool holds hashers, so that a block hash allocates none.
var keccakPool = sync.Pool{New: func() any { return crypto.NewKeccakState() }}

// keccak returns keccak256(b), as crypto.Keccak256Hash does.
func keccak(b []byte) (out common.Hash) {
	k := keccakPool.Get().(crypto.KeccakState)
	k.Reset()
	k.Write(b)
	k.Read(out[:])
	keccakPool.Put(k)
	return out
}

// hashCacheSize is the number of block hashes a chain remembers; headers
// of consecutive blocks hash each block twice (as the block and as the
// parent), and a hash parameter is hashed to be checked, then served.
const hashCacheSize = 4096

// hashEntry is one remembered block hash: the hash of block n on branch
// generation gen, immutable once stored.
type hashEntry struct {
	n   uint64
	gen uint32
	h   common.Hash
}

// number returns the block number of a hash made by hash, or false.
func (h hasher) number(hash common.Hash) (uint64, bool) {
	n := h.permute(binary.BigEndian.Uint64(hash[24:32]), true)
	return n, h.hash(n) == hash
}

// permute is a 4-round Feistel network over 64 bits keyed by seed and chain;
// inverse undoes it.
func (h hasher) permute(v uint64, inverse bool) uint64 {
	key := uint64(h.seed)*0x9E3779B97F4A7C15 ^ h.chainID*0xC2B2AE3D27D4EB4F
	round := func(x uint32, i int) uint32 {
		z := (uint64(x) ^ key ^ uint64(i)*0x165667B19E3779F9) * 0xBF58476D1CE4E5B9
		return uint32(z>>32) ^ uint32(z)
	}
	l, r := uint32(v>>32), uint32(v)
	if !inverse {
		for i := range 4 {
			l, r = r, l^round(r, i)
		}
	} else {
		for i := 3; i >= 0; i-- {
			l, r = r^round(l, i), l
		}
	}
	return uint64(l)<<32 | uint64(r)
}

// unixUTC converts unix seconds to a UTC time.
func unixUTC(s int64) time.Time { return time.Unix(s, 0).UTC() }
