package sim

import (
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// PoolDataProvider selectors served by eth_call at the market's data
// provider address (lib/chains poolDataProvider).
const (
	selGetReserveConfigurationData = 0x3e150141 // getReserveConfigurationData(address)
	selGetLiquidationProtocolFee   = 0x3cb8a622 // getLiquidationProtocolFee(address)
)

// TopicDeficitCreated is DeficitCreated(address,address,uint256) (Aave V3.3+).
var TopicDeficitCreated = common.HexToHash("0x2bccfb3fad376d59d7accf970515eb77b2f27b082c90ed0fb15583dd5a942699")

// protocolFeeBps is the liquidation protocol fee of every simulated reserve:
// 10% of the bonus, Aave V3's common setting.
const protocolFeeBps = 1000

// ReserveConfig returns a listed asset's liquidation bonus and protocol fee
// share in basis points, constant over the window: stablecoins 10450, BTC
// and ETH 10500, other ETH-curve assets (LSTs, governance and L1 tokens)
// 10750. getReserveConfigurationData and getLiquidationProtocolFee answer
// these values.
func ReserveConfig(a *Asset) (bonusBps, feeBps int64) {
	switch {
	case a.curve == curveFlat:
		return 10450, protocolFeeBps
	case a.num == a.den:
		return 10500, protocolFeeBps
	}
	return 10750, protocolFeeBps
}

// reserveConfigurationData encodes getReserveConfigurationData's ten words:
// decimals, ltv, liquidationThreshold, liquidationBonus, reserveFactor,
// usageAsCollateralEnabled, borrowingEnabled, stableBorrowRateEnabled,
// isActive, isFrozen.
func reserveConfigurationData(a *Asset) []byte {
	lb, _ := ReserveConfig(a)
	ltv, lt := uint64(7500), uint64(8000)
	if a.curve == curveFlat {
		ltv, lt = 7700, 8000
	}
	var out []byte
	for _, v := range []uint64{uint64(a.Decimals), ltv, lt, uint64(lb), 1000, 1, 1, 0, 1, 0} {
		out = append(out, u64Word(v)...)
	}
	return out
}

// valueBonus fills the event's bonus and protocol fee from its collateral
// reserve's configuration, with Aave's own arithmetic
// (LiquidationLogic._calculateAvailableCollateralToLiquidate): the
// liquidator received LiquidatedCollateralAmount = seized − fee where
// bonusCollateral = seized − percentDiv(seized, bonus) and fee =
// percentMul(bonusCollateral, feeShare). seized is solved from the received
// amount. The generated collateral amounts use a per-event bonus draw, so
// these figures are defined by the served configuration, not by the draw.
func (ev *Event) valueBonus(coll *Asset) {
	lb, f := ReserveConfig(coll)
	recv := ev.LiquidatedCollateralAmount
	num := new(big.Int).Mul(recv, big.NewInt(lb*10_000))
	seized := num.Quo(num, big.NewInt(lb*10_000-(lb-10_000)*f))
	base := new(big.Int).Mul(seized, big.NewInt(10_000))
	base.Add(base, big.NewInt(lb/2)).Quo(base, big.NewInt(lb))
	bonusColl := new(big.Int).Sub(seized, base)
	fee := new(big.Int).Mul(bonusColl, big.NewInt(f))
	fee.Add(fee, big.NewInt(5_000)).Quo(fee, big.NewInt(10_000))
	bonus := new(big.Int).Sub(bonusColl, fee)
	ev.ProtocolFeeAmount = fee
	ev.ProtocolFeeUSD = usd.Value(fee, ev.CollateralPriceE8, ev.CollateralDecimals)
	ev.BonusUSD = usd.Value(bonus, ev.CollateralPriceE8, ev.CollateralDecimals)
}

// Deficit is one generated DeficitCreated log: bad debt written off in a
// liquidation's transaction. USD in 1e-8 USD at the oracle price of the block.
type Deficit struct {
	ChainID     uint64
	Pool        common.Address
	BlockNumber uint64
	TxHash      common.Hash
	LogIndex    uint
	Borrower    common.Address
	DebtAsset   common.Address
	Amount      *big.Int
	AmountUSD   *big.Int
	// LiquidationLogIndex is the LiquidationCall it precedes (same tx).
	LiquidationLogIndex uint
}

// addDeficits inserts a DeficitCreated log before a DeficitShare of the
// liquidations, where the log index just before the LiquidationCall is free
// in its block (so no other log moves). The amount is 5–50% of the debt
// repaid. It draws from its own random stream: the rest of the simulation is
// unchanged.
func addDeficits(cfg Config, id uint64, events []Event, logs []servedLog) ([]Deficit, []servedLog) {
	used := map[[2]uint64]bool{}
	for i := range logs {
		used[[2]uint64{logs[i].pos.block, uint64(logs[i].pos.logIndex)}] = true
	}
	r := newRand(cfg.Seed, id, "deficits")
	var out []Deficit
	for i := range events {
		ev := &events[i]
		pick := r.Float64() < cfg.DeficitShare
		frac := 5 + r.IntN(46)
		if !pick || ev.LogIndex == 0 || used[[2]uint64{ev.BlockNumber, uint64(ev.LogIndex - 1)}] {
			continue
		}
		amt := new(big.Int).Mul(ev.DebtToCover, big.NewInt(int64(frac)))
		amt.Quo(amt, big.NewInt(100))
		if amt.Sign() == 0 {
			amt.SetInt64(1)
		}
		d := Deficit{ChainID: id, Pool: ev.Pool, BlockNumber: ev.BlockNumber, TxHash: ev.TxHash, LogIndex: ev.LogIndex - 1,
			Borrower: ev.Borrower, DebtAsset: ev.DebtAsset, Amount: amt,
			AmountUSD: usd.Value(amt, ev.DebtPriceE8, ev.DebtDecimals), LiquidationLogIndex: ev.LogIndex}
		out = append(out, d)
		sl := servedLog{address: ev.Pool, data: uintWord(amt), topics: []common.Hash{TopicDeficitCreated, addrTopic(ev.Borrower), addrTopic(ev.DebtAsset)},
			pos: logPos{block: ev.BlockNumber, blockHash: ev.BlockHash, time: ev.BlockTime.Unix(), txHash: ev.TxHash, txIndex: ev.TxIndex, logIndex: ev.LogIndex - 1}}
		sl.render(cfg.logTimestamps())
		logs = append(logs, sl)
	}
	sort.SliceStable(logs, func(a, b int) bool {
		if logs[a].pos.block != logs[b].pos.block {
			return logs[a].pos.block < logs[b].pos.block
		}
		return logs[a].pos.logIndex < logs[b].pos.logIndex
	})
	return out, logs
}
