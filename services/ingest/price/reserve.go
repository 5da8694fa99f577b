package price

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// ErrNoReserve is wrapped when a reserve's configuration cannot be read.
var ErrNoReserve = errors.New("reserve configuration unavailable")

// Reserve is the part of a reserve's configuration that values a
// liquidation, in basis points.
type Reserve struct {
	// LiquidationBonus is e.g. 10500 for a 5% bonus.
	LiquidationBonus uint64
	// ProtocolFee is the share of the bonus sent to the treasury, e.g. 1000
	// for 10%; 0 when the protocol has none (V2).
	ProtocolFee uint64
}

// Reserves reads the configuration of each request's assets at its block
// from the market's PoolDataProvider: getReserveConfigurationData (word 3 is
// the liquidation bonus) and, when withFee, getLiquidationProtocolFee, all in
// one JSON-RPC batch. Answers are cached per (block, asset). A request whose
// block state the node lacks is answered at the latest block, like Prices.
// The results are indexed like reqs; per-asset failures are in errs.
func (p *Pricer) Reserves(ctx context.Context, reqs []Request, withFee bool) ([]map[common.Address]Reserve, []map[common.Address]error, error) {
	j := p.reservesJob(reqs, withFee)
	if err := p.run(ctx, j); err != nil {
		return nil, nil, err
	}
	return j.out, j.errs, nil
}

// reservesJob is the wire part of Reserves.
type reservesJob struct {
	p       *Pricer
	reqs    []Request
	withFee bool
	per     int // calls per asset
	out     []map[common.Address]Reserve
	errs    []map[common.Address]error
	missing [][]common.Address // per request, the assets not cached
	answers [][]rpc.CallResult
	at      []uint64
	latest  []bool
}

func (p *Pricer) reservesJob(reqs []Request, withFee bool) *reservesJob {
	j := &reservesJob{p: p, reqs: reqs, withFee: withFee, per: 1, out: make([]map[common.Address]Reserve, len(reqs)),
		errs: make([]map[common.Address]error, len(reqs)), missing: make([][]common.Address, len(reqs)),
		answers: make([][]rpc.CallResult, len(reqs)), at: make([]uint64, len(reqs)), latest: make([]bool, len(reqs))}
	if withFee {
		j.per = 2
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range reqs {
		j.out[i], j.errs[i] = map[common.Address]Reserve{}, map[common.Address]error{}
		for _, a := range r.Assets {
			if p.cfg.DataProvider == (common.Address{}) {
				j.errs[i][a] = fmt.Errorf("%w: no data provider configured for the market on %s", ErrNoReserve, p.cfg.Chain)
			} else if rv, ok := p.reserves[reserveKey(r.Block, a)]; ok {
				j.out[i][a] = rv
			} else if !containsAddr(j.missing[i], a) {
				j.missing[i] = append(j.missing[i], a)
			}
		}
	}
	return j
}

func (j *reservesJob) what() string { return "reserve configuration" }

func (j *reservesJob) callsAt(r Request, at uint64) []rpc.Call {
	cs := make([]rpc.Call, 0, j.per*len(r.Assets))
	for _, a := range r.Assets {
		cs = append(cs, rpc.Call{To: j.p.cfg.DataProvider, Data: encodeAddressCall(SelGetReserveConfigurationData, a), Block: at})
		if j.withFee {
			cs = append(cs, rpc.Call{To: j.p.cfg.DataProvider, Data: encodeAddressCall(SelGetLiquidationProtocolFee, a), Block: at})
		}
	}
	return cs
}

func (j *reservesJob) calls() []rpc.Call {
	var calls []rpc.Call
	for i, r := range j.reqs {
		calls = append(calls, j.callsAt(Request{Assets: j.missing[i]}, r.Block)...)
	}
	return calls
}

func (j *reservesJob) take(res []rpc.CallResult) {
	n := 0
	for i, r := range j.reqs {
		j.answers[i], j.at[i] = res[n:n+j.per*len(j.missing[i])], r.Block
		n += j.per * len(j.missing[i])
	}
}

func (j *reservesJob) fallback(ctx context.Context) error {
	for i, r := range j.reqs {
		if len(j.missing[i]) == 0 {
			continue
		}
		var err error
		if j.answers[i], j.at[i], j.latest[i], err = j.p.callOrLatest(ctx, j.callsAt, Request{Block: r.Block, Assets: j.missing[i]}); err != nil {
			return fmt.Errorf("reading reserve configuration: %w", err)
		}
	}
	return nil
}

func (j *reservesJob) finish() {
	p, n := j.p, 0
	for i := range j.missing {
		n += len(j.missing[i])
	}
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reserves)+n > p.cfg.CacheSize {
		p.reserves = map[string]Reserve{}
	}
	for i, r := range j.reqs {
		for k, a := range j.missing[i] {
			rv, err := p.reserve(a, j.at[i], j.answers[i][j.per*k:j.per*(k+1)], j.withFee)
			if err != nil {
				j.errs[i][a] = err
				continue
			}
			j.out[i][a] = rv
			if !j.latest[i] {
				p.reserves[reserveKey(r.Block, a)] = rv
			}
		}
	}
}

// reserve decodes one asset's answers.
func (p *Pricer) reserve(a common.Address, at uint64, res []rpc.CallResult, withFee bool) (Reserve, error) {
	cfg := res[0]
	if cfg.Err != nil || len(cfg.Data) < 4*32 {
		return Reserve{}, fmt.Errorf("%w: getReserveConfigurationData(%s) at block %d on %s: %x (%v)", ErrNoReserve, lower(a), at, p.cfg.Chain, cfg.Data, cfg.Err)
	}
	lb, ok := smallWord(cfg.Data[3*32 : 4*32])
	if !ok || lb < 10_000 || lb > 20_000 {
		return Reserve{}, fmt.Errorf("%w: reserve %s at block %d on %s has liquidation bonus %x, want 10000..20000 bps", ErrNoReserve, lower(a), at, p.cfg.Chain, cfg.Data[3*32:4*32])
	}
	r := Reserve{LiquidationBonus: lb}
	if withFee {
		fee := res[1]
		f, ok := uint64(0), false
		if fee.Err == nil && len(fee.Data) == 32 {
			f, ok = smallWord(fee.Data)
		}
		if !ok || f > 10_000 {
			return Reserve{}, fmt.Errorf("%w: getLiquidationProtocolFee(%s) at block %d on %s: %x (%v)", ErrNoReserve, lower(a), at, p.cfg.Chain, fee.Data, fee.Err)
		}
		r.ProtocolFee = f
	}
	return r, nil
}

func containsAddr(list []common.Address, a common.Address) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func reserveKey(block uint64, a common.Address) string {
	b := make([]byte, 8, 28)
	binary.BigEndian.PutUint64(b, block)
	return string(append(b, a[:]...))
}

func smallWord(w []byte) (uint64, bool) {
	v := new(big.Int).SetBytes(w)
	if !v.IsUint64() {
		return 0, false
	}
	return v.Uint64(), true
}

// Split reconstructs Aave's division of a liquidation's collateral from the
// amount the liquidator received (LiquidationCall's
// liquidatedCollateralAmount, which excludes the protocol fee) and the
// reserve's configuration, following LiquidationLogic's
// _calculateAvailableCollateralToLiquidate:
//
//	seized = received + fee
//	bonusCollateral = seized − percentDiv(seized, bonus)
//	fee = percentMul(bonusCollateral, feeShare)
//
// seized is solved as received·B·10⁴ / (B·10⁴ − (B−10⁴)·F), so fee can be off
// by one base unit from the aToken transfer to the treasury. bonus is the
// liquidator's share of the bonus (bonusCollateral − fee). Both are collateral
// base units; with no fee share, fee is 0 and seized = received.
func Split(received *big.Int, r Reserve) (fee, bonus *big.Int) {
	const bps = 10_000
	b, f := int64(r.LiquidationBonus), int64(r.ProtocolFee)
	seized := new(big.Int).Set(received)
	if f > 0 {
		num := new(big.Int).Mul(received, big.NewInt(b*bps))
		seized = num.Quo(num, big.NewInt(b*bps-(b-bps)*f))
	}
	bonusColl := new(big.Int).Sub(seized, percentDiv(seized, b))
	fee = percentMul(bonusColl, f)
	if bonusColl.Sign() < 0 {
		bonusColl.SetInt64(0)
	}
	return fee, bonusColl.Sub(bonusColl, fee)
}

// percentMul and percentDiv are Aave's PercentageMath (half-up rounding,
// 4-decimal percentages).
func percentMul(v *big.Int, pct int64) *big.Int {
	x := new(big.Int).Mul(v, big.NewInt(pct))
	x.Add(x, big.NewInt(5_000))
	return x.Quo(x, big.NewInt(10_000))
}

func percentDiv(v *big.Int, pct int64) *big.Int {
	x := new(big.Int).Mul(v, big.NewInt(10_000))
	x.Add(x, big.NewInt(pct/2))
	return x.Quo(x, big.NewInt(pct))
}
