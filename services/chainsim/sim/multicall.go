package sim

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// Multicall3 is the canonical Multicall3 address, the same on every chain
// (github.com/mds1/multicall3).
var Multicall3 = common.HexToAddress("0xcA11bde05977b3631167028862bE2a173976CA11")

// selAggregate3 is aggregate3((address,bool,bytes)[]), the only Multicall3
// function chainsim serves.
const selAggregate3 = 0x82ad56cb

// maxCallDepth bounds aggregate3 calling aggregate3; deeper calls fail, as
// they would for want of gas.
const maxCallDepth = 8

// DefaultMulticall3Block returns the block Multicall3 was deployed at on a
// simulated chain, as viem records it (contracts.multicall3.blockCreated of
// its chain definitions): Ethereum 14,353,601, Polygon 25,770,160,
// Avalanche 11,907,934, Arbitrum One 7,654,707, Base 5,022. 0 for a chain
// chainsim does not simulate.
func DefaultMulticall3Block(chainID uint64) uint64 { return chainSpecs[chainID].multicall3Block }

// multicallFailed is the revert data of aggregate3 when a call that may not
// fail does: Error("Multicall3: call failed"), the 100 bytes the contract
// writes in assembly.
var multicallFailed = func() []byte {
	out := []byte{0x08, 0xc3, 0x79, 0xa0}
	out = appendU64Word(out, 32)
	out = appendU64Word(out, 23)
	return append(out, abiBytes32("Multicall3: call failed")...)
}()

// multicall3 runs a call to the Multicall3 address at block n. Below the
// deployment block the address has no code: the call succeeds and returns
// nothing, as on a real node. Above it, aggregate3 is served and any other
// call reverts without data (the contract has no fallback).
func (c *chainState) multicall3(data []byte, n uint64, depth int) ([]byte, bool) {
	if n < c.multicall3Block {
		return nil, true
	}
	if len(data) < 4 || binary.BigEndian.Uint32(data) != selAggregate3 || depth >= maxCallDepth {
		return nil, false
	}
	c.srv.aggregate3.Add(1)
	return c.aggregate3(data[4:], n, depth)
}

// aggregate3 runs each (target, allowFailure, callData) through run at block
// n and returns the ABI-encoded (bool success, bytes returnData)[]. A failed
// call whose allowFailure word is zero makes the whole call revert with
// multicallFailed; calldata that does not decode reverts without data.
// Calls are decoded one by one as they run, as the contract reads them.
func (c *chainState) aggregate3(args []byte, n uint64, depth int) ([]byte, bool) {
	arr, ok := abiOffset(args, 0, 0)
	if !ok {
		return nil, false
	}
	count, ok := abiUint(args, arr)
	if !ok || count > (len(args)-arr-32)/32 {
		return nil, false
	}
	head := arr + 32 // offsets of the tuples are relative to here
	type result struct {
		ok  bool
		ret []byte
	}
	results := make([]result, count)
	size := 64 + 32*len(results)
	for i := range results {
		tuple, ok := abiOffset(args, head+32*i, head)
		if !ok || tuple+96 > len(args) {
			return nil, false
		}
		target, ok := argAddress(args[tuple:], 0)
		if !ok {
			return nil, false
		}
		data, ok := abiBytes(args, tuple+64, tuple)
		if !ok {
			return nil, false
		}
		c.srv.aggregate3Inner.Add(1)
		ret, success := c.run(target, data, n, depth+1)
		// The contract reads allowFailure as a raw word: any non-zero value
		// allows failure.
		if !success && zero(args[tuple+32:tuple+64]) {
			return multicallFailed, false
		}
		results[i] = result{success, ret}
		size += 96 + (len(ret)+31)/32*32
	}
	out := make([]byte, 0, size)
	out = appendU64Word(out, 32)
	out = appendU64Word(out, uint64(len(results)))
	off := 32 * len(results)
	for _, r := range results {
		out = appendU64Word(out, uint64(off))
		off += 96 + (len(r.ret)+31)/32*32
	}
	for _, r := range results {
		b := uint64(0)
		if r.ok {
			b = 1
		}
		out = appendU64Word(out, b)
		out = appendU64Word(out, 64)
		out = appendU64Word(out, uint64(len(r.ret)))
		out = append(out, r.ret...)
		out = append(out, make([]byte, (32-len(r.ret)%32)%32)...)
	}
	return out, true
}

// abiUint reads the word at byte pos of b as an int that fits in b; false
// when the word is out of bounds or its value is not below len(b).
func abiUint(b []byte, pos int) (int, bool) {
	if pos < 0 || pos+32 > len(b) {
		return 0, false
	}
	v, ok := argUint64(b[pos : pos+32])
	if !ok || v >= uint64(len(b)) {
		return 0, false
	}
	return int(v), true
}

// abiOffset reads an offset at byte pos of b and returns base + offset, the
// position it points to, which must leave room for a word.
func abiOffset(b []byte, pos, base int) (int, bool) {
	off, ok := abiUint(b, pos)
	if !ok || base+off+32 > len(b) {
		return 0, false
	}
	return base + off, true
}

// abiBytes reads the dynamic bytes whose offset (from base) is at byte pos
// of b.
func abiBytes(b []byte, pos, base int) ([]byte, bool) {
	at, ok := abiOffset(b, pos, base)
	if !ok {
		return nil, false
	}
	l, ok := argUint64(b[at : at+32])
	if !ok || l > uint64(len(b)-at-32) {
		return nil, false
	}
	return b[at+32 : at+32+int(l)], true
}
