package sim

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// ErrReorg is wrapped by Reorg's errors.
var ErrReorg = errors.New("chainsim: reorg")

// ReorgResult says what a Reorg changed.
type ReorgResult struct {
	// Fork is the first replaced block; the new branch is [Fork, head].
	Fork uint64
	// Vanished, Moved and Added count liquidations of the orphaned blocks
	// that are gone, that moved to another block of the new branch (same tx
	// hash and, when free, the same log index), and that are new.
	Vanished, Moved, Added int
}

// Reorg replaces the last depth blocks up to the head of a chain with a new
// branch: blocks [head-depth+1, head] get new hashes (so the parent hash
// changes from the fork point on), about a quarter of the orphaned
// transactions with liquidations vanish, a quarter move to another block of
// the branch (repriced at that block), the rest stay in their block, and one
// to three new liquidations appear. A transaction's DeficitCreated logs share
// its fate. With Config.ReorgPriceShiftBps every event of the branch is
// repriced, as the oracle answers differently there. Blocks above the head
// keep their hashes and logs. Truth reflects the canonical chain afterwards.
// The same seed on the same state gives the same branch. It fails (wrapping
// ErrReorg) for an unknown chain or a depth of 0 or above the head.
func (s *Sim) Reorg(chainID uint64, depth uint64, seed int64) (ReorgResult, error) {
	c := s.chains[chainID]
	if c == nil {
		return ReorgResult{}, fmt.Errorf("%w: unknown chain %d", ErrReorg, chainID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	head := c.head.Load()
	if depth == 0 || depth > head {
		return ReorgResult{}, fmt.Errorf("%w: chain %d: depth %d: want 1..head (%d)", ErrReorg, chainID, depth, head)
	}
	lo := head - depth + 1
	if c.gens == nil {
		c.gens = map[uint64]uint32{}
	}
	c.lastGen++
	for n := lo; n <= head; n++ {
		c.gens[n] = c.lastGen
	}
	r := newRand(seed, chainID, fmt.Sprintf("reorg-%d-%d", lo, c.lastGen))
	res := ReorgResult{Fork: lo}

	// The orphaned logs, grouped by transaction.
	first := slices.IndexFunc(c.logs, func(l servedLog) bool { return l.pos.block >= lo })
	if first < 0 {
		first = len(c.logs)
	}
	end := first
	for end < len(c.logs) && c.logs[end].pos.block <= head {
		end++
	}
	evByLog := map[[2]uint64]Event{} // (block, log index) → event
	for _, ev := range s.truth.Events(chainID) {
		if ev.BlockNumber >= lo && ev.BlockNumber <= head {
			evByLog[[2]uint64{ev.BlockNumber, uint64(ev.LogIndex)}] = ev
		}
	}
	defByLog := map[[2]uint64]Deficit{} // (block, log index) → deficit
	for _, d := range s.truth.Deficits(chainID) {
		if d.BlockNumber >= lo && d.BlockNumber <= head {
			defByLog[[2]uint64{d.BlockNumber, uint64(d.LogIndex)}] = d
		}
	}
	type branchLog struct {
		sl   servedLog
		ev   *Event
		orig [2]uint64 // (block, log index) before the reorg
	}
	var branch []branchLog
	used := map[[2]uint64]bool{} // (block, log index) taken on the branch
	txUsed := map[[2]uint64]bool{}
	for i := first; i < end; {
		j := i
		for j < end && c.logs[j].pos.txHash == c.logs[i].pos.txHash {
			j++
		}
		tx := c.logs[i:j]
		var evs []*Event
		for k := range tx {
			if ev, ok := evByLog[[2]uint64{tx[k].pos.block, uint64(tx[k].pos.logIndex)}]; ok {
				evs = append(evs, &ev)
			} else {
				evs = append(evs, nil)
			}
		}
		hasLiq := slices.ContainsFunc(evs, func(e *Event) bool { return e != nil })
		target := tx[0].pos.block
		switch x := r.Float64(); {
		case hasLiq && x < 0.25:
			res.Vanished += countNonNil(evs)
			i = j
			continue
		case hasLiq && x < 0.5 && depth > 1:
			target = lo + r.Uint64N(depth)
			if target != tx[0].pos.block {
				res.Moved += countNonNil(evs)
			}
		}
		for k := range tx {
			branch = append(branch, branchLog{sl: tx[k], ev: evs[k], orig: [2]uint64{tx[k].pos.block, uint64(tx[k].pos.logIndex)}})
			branch[len(branch)-1].sl.pos.block = target
		}
		i = j
	}
	// New liquidations, one per new transaction.
	g := &chainGen{cfg: s.cfg, id: chainID, spec: chainSpecs[chainID], clk: c.clk, hash: c.hash, pool: c.pool,
		assets: c.assets, prices: c.prices, r: r, borrowers: max(50, int(chainSpecs[chainID].volume*s.cfg.Scale*0.45))}
	for i := range 8 {
		g.liquidators = append(g.liquidators, derivedAddress(s.cfg.Seed, chainID, "liquidator", uint64(i)))
	}
	for k := range 1 + r.IntN(3) {
		n := lo + r.Uint64N(depth)
		ev := g.event(n, g.liquidators[r.IntN(len(g.liquidators))])
		ev.TxHash = derivedHash(s.cfg.Seed, chainID, "reorg-tx", uint64(c.lastGen), uint64(k))
		ev.valueBonus(c.byAddr[ev.CollateralAsset])
		sl := liquidationLog(ev)
		sl.pos = logPos{block: n, txHash: ev.TxHash, txIndex: 1 << 20, logIndex: 1 << 20} // placed below
		branch = append(branch, branchLog{sl: sl, ev: ev})
		res.Added++
	}
	// Positions: keep a log's index when free in its block, otherwise append
	// after the block's last log; the same for transaction indexes.
	slices.SortStableFunc(branch, func(a, b branchLog) int {
		return cmp.Or(cmp.Compare(a.sl.pos.block, b.sl.pos.block), cmp.Compare(a.sl.pos.logIndex, b.sl.pos.logIndex))
	})
	nextFree := map[uint64]uint{}
	nextTx := map[uint64]uint{}
	txIdx := map[common.Hash]uint{}
	for i := range branch {
		p := &branch[i].sl.pos
		key := [2]uint64{p.block, uint64(p.logIndex)}
		if used[key] || p.logIndex >= 1<<20 {
			p.logIndex = nextFree[p.block]
			key = [2]uint64{p.block, uint64(p.logIndex)}
		}
		used[key] = true
		nextFree[p.block] = max(nextFree[p.block], p.logIndex+1)
		if ti, ok := txIdx[p.txHash]; ok {
			p.txIndex = ti
		} else {
			tk := [2]uint64{p.block, uint64(p.txIndex)}
			if txUsed[tk] || p.txIndex >= 1<<20 {
				p.txIndex = nextTx[p.block]
				tk = [2]uint64{p.block, uint64(p.txIndex)}
			}
			txUsed[tk] = true
			txIdx[p.txHash] = p.txIndex
			nextTx[p.block] = max(nextTx[p.block], p.txIndex+1)
		}
	}
	slices.SortStableFunc(branch, func(a, b branchLog) int {
		return cmp.Or(cmp.Compare(a.sl.pos.block, b.sl.pos.block), cmp.Compare(a.sl.pos.logIndex, b.sl.pos.logIndex))
	})
	// Render the branch and rebuild the truth of the reorged blocks.
	newLogs := make([]servedLog, 0, len(c.logs)-(end-first)+len(branch))
	newLogs = append(newLogs, c.logs[:first]...)
	var newEvents []Event
	var newDeficits []Deficit
	newIndex := map[[2]uint64]uint{} // original (block, log index) → new log index
	for i := range branch {
		if branch[i].orig != ([2]uint64{}) {
			newIndex[branch[i].orig] = branch[i].sl.pos.logIndex
		}
	}
	for i := range branch {
		b := &branch[i]
		b.sl.pos.blockHash = c.blockHash(b.sl.pos.block)
		b.sl.pos.time = c.clk.time(b.sl.pos.block)
		if d, ok := defByLog[b.orig]; ok {
			d.BlockNumber, d.LogIndex = b.sl.pos.block, b.sl.pos.logIndex
			d.LiquidationLogIndex = newIndex[[2]uint64{b.orig[0], uint64(d.LiquidationLogIndex)}]
			d.AmountUSD = usd.Value(d.Amount, c.priceAt(c.byAddr[d.DebtAsset], d.BlockNumber), c.byAddr[d.DebtAsset].Decimals)
			newDeficits = append(newDeficits, d)
		}
		if b.ev != nil {
			ev := *b.ev
			if ev.BlockNumber != b.sl.pos.block || c.shiftBps > 0 {
				c.reprice(&ev, b.sl.pos.block)
			}
			ev.BlockHash, ev.TxIndex, ev.LogIndex = b.sl.pos.blockHash, b.sl.pos.txIndex, b.sl.pos.logIndex
			newEvents = append(newEvents, ev)
		}
		b.sl.render(s.cfg.logTimestamps())
		newLogs = append(newLogs, b.sl)
	}
	newLogs = append(newLogs, c.logs[end:]...)
	c.logs = newLogs

	t := s.truth
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.events[chainID]
	a := slices.IndexFunc(old, func(e Event) bool { return e.BlockNumber >= lo })
	if a < 0 {
		a = len(old)
	}
	z := a
	for z < len(old) && old[z].BlockNumber <= head {
		z++
	}
	evs := make([]Event, 0, len(old)-(z-a)+len(newEvents))
	evs = append(evs, old[:a]...)
	evs = append(evs, newEvents...)
	evs = append(evs, old[z:]...)
	t.events[chainID] = evs
	if oldDef := t.deficits[chainID]; len(oldDef) > 0 {
		a := slices.IndexFunc(oldDef, func(d Deficit) bool { return d.BlockNumber >= lo })
		if a < 0 {
			a = len(oldDef)
		}
		z := a
		for z < len(oldDef) && oldDef[z].BlockNumber <= head {
			z++
		}
		defs := make([]Deficit, 0, len(oldDef)-(z-a)+len(newDeficits))
		defs = append(defs, oldDef[:a]...)
		defs = append(defs, newDeficits...)
		defs = append(defs, oldDef[z:]...)
		t.deficits[chainID] = defs
	}
	return res, nil
}

func countNonNil(evs []*Event) int {
	n := 0
	for _, e := range evs {
		if e != nil {
			n++
		}
	}
	return n
}

// reprice moves ev to block n: time and oracle prices at n, USD values and
// bonus recomputed; amounts unchanged.
func (c *chainState) reprice(ev *Event, n uint64) {
	coll, debt := c.byAddr[ev.CollateralAsset], c.byAddr[ev.DebtAsset]
	ts := c.clk.time(n)
	ev.BlockNumber, ev.BlockTime = n, unixUTC(ts)
	ev.CollateralPriceE8, ev.DebtPriceE8 = c.priceAt(coll, n), c.priceAt(debt, n)
	ev.DebtUSD = usd.Value(ev.DebtToCover, ev.DebtPriceE8, debt.Decimals)
	ev.CollateralUSD = usd.Value(ev.LiquidatedCollateralAmount, ev.CollateralPriceE8, coll.Decimals)
	ev.valueBonus(coll)
}

// blockHash returns the canonical hash of block n: the original chain's, or
// the branch's for reorged blocks. The caller holds c.mu.
func (c *chainState) blockHash(n uint64) common.Hash {
	g := c.gens[n]
	// A (block, generation) pair always has the same hash, so a cached
	// entry never goes stale: a reorg gives its blocks a new generation.
	slot := &c.hashCache[n%hashCacheSize]
	if e := slot.Load(); e != nil && e.n == n && e.gen == g {
		return e.h
	}
	var out common.Hash
	if g == 0 {
		out = c.hash.hash(n)
	} else {
		var buf [28]byte
		binary.BigEndian.PutUint64(buf[0:], uint64(c.hash.seed))
		binary.BigEndian.PutUint64(buf[8:], c.hash.chainID)
		binary.BigEndian.PutUint64(buf[16:], n)
		binary.BigEndian.PutUint32(buf[24:], g)
		out = keccak(buf[:])
		binary.BigEndian.PutUint64(out[24:32], c.hash.permute(n, false))
	}
	slot.Store(&hashEntry{n: n, gen: g, h: out})
	return out
}

// numberOf resolves a canonical block hash to its number; orphaned hashes
// do not resolve. The caller holds c.mu.
func (c *chainState) numberOf(h common.Hash) (uint64, bool) {
	n := c.hash.permute(binary.BigEndian.Uint64(h[24:32]), true)
	return n, c.blockHash(n) == h
}
