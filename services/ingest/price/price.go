package price

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Function selectors used by the Pricer.
var (
	SelGetAssetPrice    = [4]byte{0xb3, 0x59, 0x6f, 0x07} // getAssetPrice(address)
	SelGetAssetsPrices  = [4]byte{0x9d, 0x23, 0xd9, 0xf2} // getAssetsPrices(address[])
	SelBaseCurrencyUnit = [4]byte{0x8c, 0x89, 0xb6, 0x4f} // BASE_CURRENCY_UNIT()
	SelSymbol           = [4]byte{0x95, 0xd8, 0x9b, 0x41} // symbol()
	SelDecimals         = [4]byte{0x31, 0x3c, 0xe5, 0x67} // decimals()
	// SelLatestRoundData is Chainlink's latestRoundData().
	SelLatestRoundData = [4]byte{0xfe, 0xaf, 0x96, 0x8c}
	// SelGetReserveConfigurationData is PoolDataProvider's
	// getReserveConfigurationData(address).
	SelGetReserveConfigurationData = [4]byte{0x3e, 0x15, 0x01, 0x41}
	// SelGetLiquidationProtocolFee is PoolDataProvider's
	// getLiquidationProtocolFee(address) (V3 and forks).
	SelGetLiquidationProtocolFee = [4]byte{0x3c, 0xb8, 0xa6, 0x22}
	weiPerETH                    = big.NewInt(1_000_000_000_000_000_000)
	supportedBaseUnitE8          = big.NewInt(100_000_000)
	maxTokenDecimals             = 77 // usd.Pow10 range
	defaultPriceCacheLen         = 100_000
)

// Sentinels wrapped by the errors of this package.
var (
	ErrUnsupportedBase = errors.New("oracle base currency is not USD with 8 decimals")
	ErrBadToken        = errors.New("token metadata call failed or returned garbage")
	ErrNoPrice         = errors.New("oracle returned no price")
)

// Caller is the RPC the Pricer needs; *rpc.Client implements it. Head is
// used only for the latest-block fallback when the node lacks state at an
// event's block.
type Caller interface {
	CallBatch(ctx context.Context, calls []rpc.Call) ([]rpc.CallResult, error)
	Head(ctx context.Context) (uint64, error)
}

var _ Caller = (*rpc.Client)(nil)

// Config configures a Pricer.
type Config struct {
	Chain  string
	Oracle common.Address
	// WETH is the chain's wrapped ether, used to detect an ETH-based oracle
	// that has no BASE_CURRENCY_UNIT (Aave V1, V2): WETH priced at 1e18.
	WETH common.Address
	// ETHUSDFeed is a Chainlink ETH/USD aggregator (8 decimals) read at the
	// same block to convert an ETH-based oracle's prices to USD.
	ETHUSDFeed common.Address
	// DataProvider is the market's PoolDataProvider, for Reserves; zero
	// disables bonus and fee.
	DataProvider common.Address
	// CacheSize bounds cached (block, asset set) price answers (default 100,000).
	CacheSize int
}

// Token is an ERC-20's metadata.
type Token struct {
	Address  common.Address
	Symbol   string
	Decimals uint8
}

// Pricer reads token metadata and oracle prices for one market.
type Pricer struct {
	cfg    Config
	log    *slog.Logger
	caller Caller

	mu       sync.Mutex
	tokens   map[common.Address]Token
	prices   map[string]map[common.Address]*big.Int // key: block + sorted assets
	reserves map[string]Reserve                     // key: block + asset
	baseRead bool
	ethBase  bool
}

// New returns a Pricer for the oracle of one market.
func New(cfg Config, log *slog.Logger, caller Caller) (*Pricer, error) {
	if cfg.Oracle == (common.Address{}) {
		return nil, fmt.Errorf("price: market oracle address is empty (set market.oracle)")
	}
	if caller == nil {
		return nil, fmt.Errorf("price: nil caller")
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = defaultPriceCacheLen
	}
	return &Pricer{cfg: cfg, log: log, caller: caller, tokens: map[common.Address]Token{}, prices: map[string]map[common.Address]*big.Int{},
		reserves: map[string]Reserve{}}, nil
}

// CheckBase detects the oracle's base currency at block, once per Pricer.
// BASE_CURRENCY_UNIT 1e8 is USD with 8 decimals (every V3 market); 1e18 is
// ETH. An oracle without BASE_CURRENCY_UNIT (V1, V2) is probed with the price
// of WETH: exactly 1e18 means ETH, a plausible dollar price ($10 to $1M with
// 8 decimals) means USD. An ETH base needs ETHUSDFeed to convert; anything
// else is ErrUnsupportedBase, never a silently wrong USD value.
func (p *Pricer) CheckBase(ctx context.Context, block uint64) error {
	p.mu.Lock()
	done := p.baseRead
	p.mu.Unlock()
	if done {
		return nil
	}
	where := fmt.Sprintf("oracle %s on %s", lower(p.cfg.Oracle), p.cfg.Chain)
	res, err := p.caller.CallBatch(ctx, []rpc.Call{{To: p.cfg.Oracle, Data: SelBaseCurrencyUnit[:], Block: block}})
	if err != nil {
		return fmt.Errorf("reading BASE_CURRENCY_UNIT of %s: %w", where, err)
	}
	var eth bool
	switch {
	case res[0].Err == nil && len(res[0].Data) == 32:
		unit := new(big.Int).SetBytes(res[0].Data)
		switch {
		case unit.Cmp(supportedBaseUnitE8) == 0:
		case unit.Cmp(weiPerETH) == 0:
			eth = true
		default:
			return fmt.Errorf("%s has BASE_CURRENCY_UNIT %s: %w", where, unit, ErrUnsupportedBase)
		}
	case p.cfg.WETH == (common.Address{}):
		return fmt.Errorf("%s answers no BASE_CURRENCY_UNIT (%v) and no WETH is configured to probe its base: %w", where, res[0].Err, ErrUnsupportedBase)
	default:
		pr, err := p.caller.CallBatch(ctx, []rpc.Call{{To: p.cfg.Oracle, Data: encodeAddressCall(SelGetAssetPrice, p.cfg.WETH), Block: block}})
		if err != nil {
			return fmt.Errorf("probing the base currency of %s with the WETH price: %w", where, err)
		}
		if pr[0].Err != nil || len(pr[0].Data) != 32 {
			return fmt.Errorf("probing the base currency of %s: getAssetPrice(WETH) answered %x (%v): %w", where, pr[0].Data, pr[0].Err, ErrUnsupportedBase)
		}
		v := new(big.Int).SetBytes(pr[0].Data)
		switch {
		case v.Cmp(weiPerETH) == 0:
			eth = true
		case v.Cmp(big.NewInt(10e8)) >= 0 && v.Cmp(big.NewInt(1e14)) <= 0:
		default:
			return fmt.Errorf("%s prices WETH at %s: neither 1e18 (ETH base) nor a USD price with 8 decimals: %w", where, v, ErrUnsupportedBase)
		}
	}
	if eth && p.cfg.ETHUSDFeed == (common.Address{}) {
		return fmt.Errorf("%s quotes in ETH and no ETH/USD feed is configured to convert (set the market's eth_usd_feed): %w", where, ErrUnsupportedBase)
	}
	if eth && p.log != nil {
		p.log.Info("oracle quotes in ETH; converting with the ETH/USD feed at each block", "oracle", lower(p.cfg.Oracle), "feed", lower(p.cfg.ETHUSDFeed))
	}
	p.mu.Lock()
	p.baseRead, p.ethBase = true, eth
	p.mu.Unlock()
	return nil
}

func encodeAddressCall(sel [4]byte, a common.Address) []byte {
	b := make([]byte, 36)
	copy(b, sel[:])
	copy(b[16:], a[:])
	return b
}

// NativeETH is the placeholder address Aave V1 uses for ether; it has no
// ERC-20 contract, so Tokens answers "ETH" with 18 decimals for it.
var NativeETH = common.HexToAddress("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE")

// Tokens returns metadata for addrs, reading unknown tokens with one batch
// of symbol() and decimals() calls at block. A token whose calls fail is
// missing from the map and reported in the returned per-token errors.
func (p *Pricer) Tokens(ctx context.Context, block uint64, addrs []common.Address) (map[common.Address]Token, map[common.Address]error, error) {
	out := make(map[common.Address]Token, len(addrs))
	var missing []common.Address
	p.mu.Lock()
	for _, a := range addrs {
		if a == NativeETH {
			out[a] = Token{Address: a, Symbol: "ETH", Decimals: 18}
			continue
		}
		if t, ok := p.tokens[a]; ok {
			out[a] = t
		} else if !slices.Contains(missing, a) {
			missing = append(missing, a)
		}
	}
	p.mu.Unlock()
	if len(missing) == 0 {
		return out, nil, nil
	}
	calls := make([]rpc.Call, 0, 2*len(missing))
	for _, a := range missing {
		calls = append(calls, rpc.Call{To: a, Data: SelSymbol[:], Block: block}, rpc.Call{To: a, Data: SelDecimals[:], Block: block})
	}
	res, err := p.caller.CallBatch(ctx, calls)
	if err != nil {
		return nil, nil, fmt.Errorf("reading token metadata on %s: %w", p.cfg.Chain, err)
	}
	errs := map[common.Address]error{}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, a := range missing {
		sym, dec := res[2*i], res[2*i+1]
		if sym.Err != nil || dec.Err != nil {
			errs[a] = fmt.Errorf("%w: token %s on %s: symbol: %v, decimals: %v", ErrBadToken, lower(a), p.cfg.Chain, sym.Err, dec.Err)
			continue
		}
		s, ok := DecodeSymbol(sym.Data)
		d, ok2 := decodeDecimals(dec.Data)
		if !ok || !ok2 {
			errs[a] = fmt.Errorf("%w: token %s on %s: symbol %x, decimals %x", ErrBadToken, lower(a), p.cfg.Chain, sym.Data, dec.Data)
			continue
		}
		t := Token{Address: a, Symbol: s, Decimals: d}
		p.tokens[a] = t
		out[a] = t
	}
	return out, errs, nil
}

// Request asks for the prices of Assets at Block.
type Request struct {
	Block  uint64
	Assets []common.Address
}

// Quote is the answer to one Request: USD prices with 8 decimals.
type Quote struct {
	Prices map[common.Address]*big.Int
	// Block is the block whose state produced the prices: the request's
	// block, or the latest block when Latest is set.
	Block uint64
	// Latest is set when the node could not serve state at the request's
	// block (pruned or lagging: "missing trie node", "header not found") and
	// the oracle was read at the latest block instead.
	Latest bool
}

// Prices answers every request, sending one getAssetsPrices call per request
// not cached (plus one ETH/USD latestRoundData call for an ETH-based oracle),
// all in one JSON-RPC batch. The result is indexed like reqs; a request whose
// call failed has a zero Quote and an error in errs. When the node lacks the
// state of a request's block, that request is answered at the latest block
// with Quote.Latest set (never silently at the wrong block).
func (p *Pricer) Prices(ctx context.Context, reqs []Request) ([]Quote, []error, error) {
	j := p.pricesJob(reqs)
	if err := p.run(ctx, j); err != nil {
		return nil, nil, err
	}
	return j.out, j.errs, nil
}

// Lookup is Prices(prices) and Reserves(reserves, withFee) with the calls of
// both in one JSON-RPC batch: one round trip for a range's lookups.
func (p *Pricer) Lookup(ctx context.Context, prices, reserves []Request, withFee bool) ([]Quote, []error, []map[common.Address]Reserve, []map[common.Address]error, error) {
	pj, rj := p.pricesJob(prices), p.reservesJob(reserves, withFee)
	if err := p.run(ctx, pj, rj); err != nil {
		return nil, nil, nil, nil, err
	}
	return pj.out, pj.errs, rj.out, rj.errs, nil
}

// lookupJob is one Prices or Reserves call split at the wire: the calls it
// still needs after its cache, how it takes their answers from a batch, its
// per-request fallback when the node lacks some block's state, and the
// decoding and caching of what it got.
type lookupJob interface {
	calls() []rpc.Call
	take(res []rpc.CallResult)
	fallback(ctx context.Context) error
	finish()
	what() string
}

// run sends the calls of every job in one JSON-RPC batch. When a block's
// state is missing (rpc.ErrBlockNotFound fails the whole batch), each job
// retries its requests alone and falls back to the latest block for those
// the node cannot serve.
func (p *Pricer) run(ctx context.Context, jobs ...lookupJob) error {
	var calls []rpc.Call
	ns := make([]int, len(jobs))
	var whats []string
	for i, j := range jobs {
		c := j.calls()
		calls, ns[i] = append(calls, c...), len(c)
		if len(c) > 0 {
			whats = append(whats, j.what())
		}
	}
	if len(calls) > 0 {
		res, err := p.caller.CallBatch(ctx, calls)
		switch {
		case err == nil:
			for i, j := range jobs {
				j.take(res[:ns[i]])
				res = res[ns[i]:]
			}
		case errors.Is(err, rpc.ErrBlockNotFound):
			for i, j := range jobs {
				if ns[i] > 0 {
					if err := j.fallback(ctx); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("reading %s on %s: %w", strings.Join(whats, " and "), p.cfg.Chain, err)
		}
	}
	for _, j := range jobs {
		j.finish()
	}
	return nil
}

// pricesJob is the wire part of Prices.
type pricesJob struct {
	p       *Pricer
	reqs    []Request
	out     []Quote
	errs    []error
	keys    []string
	idx     []int // requests not cached
	per     int   // calls per request
	answers [][]rpc.CallResult
	callsAt func(Request, uint64) []rpc.Call
}

func (p *Pricer) pricesJob(reqs []Request) *pricesJob {
	j := &pricesJob{p: p, reqs: reqs, out: make([]Quote, len(reqs)), errs: make([]error, len(reqs)),
		keys: make([]string, len(reqs)), answers: make([][]rpc.CallResult, len(reqs)), per: 1}
	p.mu.Lock()
	eth := p.ethBase
	for i := range reqs {
		assets := slices.Clone(reqs[i].Assets)
		slices.SortFunc(assets, func(a, b common.Address) int { return strings.Compare(string(a[:]), string(b[:])) })
		assets = slices.Compact(assets)
		reqs[i].Assets = assets
		j.keys[i] = cacheKey(reqs[i].Block, assets)
		if m, ok := p.prices[j.keys[i]]; ok {
			j.out[i] = Quote{Prices: m, Block: reqs[i].Block}
			continue
		}
		j.idx = append(j.idx, i)
	}
	p.mu.Unlock()
	if eth {
		j.per = 2
	}
	j.callsAt = func(r Request, block uint64) []rpc.Call {
		cs := []rpc.Call{{To: p.cfg.Oracle, Data: EncodeGetAssetsPrices(r.Assets), Block: block}}
		if eth {
			cs = append(cs, rpc.Call{To: p.cfg.ETHUSDFeed, Data: SelLatestRoundData[:], Block: block})
		}
		return cs
	}
	return j
}

func (j *pricesJob) what() string { return "oracle prices" }

func (j *pricesJob) calls() []rpc.Call {
	calls := make([]rpc.Call, 0, j.per*len(j.idx))
	for _, i := range j.idx {
		calls = append(calls, j.callsAt(j.reqs[i], j.reqs[i].Block)...)
	}
	return calls
}

func (j *pricesJob) take(res []rpc.CallResult) {
	for k, i := range j.idx {
		j.answers[i] = res[j.per*k : j.per*(k+1)]
		j.out[i].Block = j.reqs[i].Block
	}
}

func (j *pricesJob) fallback(ctx context.Context) error {
	for _, i := range j.idx {
		a, block, latest, err := j.p.callOrLatest(ctx, j.callsAt, j.reqs[i])
		if err != nil {
			return err
		}
		j.answers[i], j.out[i].Block, j.out[i].Latest = a, block, latest
	}
	return nil
}

func (j *pricesJob) finish() {
	if len(j.idx) == 0 {
		return
	}
	p := j.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.prices)+len(j.idx) > p.cfg.CacheSize {
		p.prices = map[string]map[common.Address]*big.Int{}
	}
	for _, i := range j.idx {
		m, err := p.quote(j.reqs[i], j.out[i].Block, j.answers[i])
		if err != nil {
			j.errs[i], j.out[i] = err, Quote{}
			continue
		}
		j.out[i].Prices = m
		if !j.out[i].Latest {
			p.prices[j.keys[i]] = m
		}
	}
}

// callOrLatest runs one request's calls at its block, or at the latest block
// when the node lacks that block's state.
func (p *Pricer) callOrLatest(ctx context.Context, callsAt func(Request, uint64) []rpc.Call, r Request) ([]rpc.CallResult, uint64, bool, error) {
	res, err := p.caller.CallBatch(ctx, callsAt(r, r.Block))
	if err == nil {
		return res, r.Block, false, nil
	}
	if !errors.Is(err, rpc.ErrBlockNotFound) {
		return nil, 0, false, fmt.Errorf("reading oracle prices at block %d on %s: %w", r.Block, p.cfg.Chain, err)
	}
	head, herr := p.caller.Head(ctx)
	if herr != nil {
		return nil, 0, false, fmt.Errorf("reading the head for the latest-price fallback on %s: %w", p.cfg.Chain, herr)
	}
	if p.log != nil {
		p.log.Warn("node lacks state at the event block; using oracle prices at the latest block",
			"chain", p.cfg.Chain, "block", r.Block, "latest", head, "err", err)
	}
	res, err = p.caller.CallBatch(ctx, callsAt(r, head))
	if err != nil {
		return nil, 0, false, fmt.Errorf("reading oracle prices at the latest block %d on %s (fallback for block %d): %w", head, p.cfg.Chain, r.Block, err)
	}
	return res, head, true, nil
}

// quote decodes one request's answers into USD e8 prices.
func (p *Pricer) quote(r Request, block uint64, res []rpc.CallResult) (map[common.Address]*big.Int, error) {
	if res[0].Err != nil {
		return nil, fmt.Errorf("getAssetsPrices at block %d on %s: %w", block, p.cfg.Chain, res[0].Err)
	}
	vals, ok := decodeUintArray(res[0].Data)
	if !ok || len(vals) != len(r.Assets) {
		return nil, fmt.Errorf("%w: getAssetsPrices at block %d on %s returned %d bytes for %d assets", ErrNoPrice, block, p.cfg.Chain, len(res[0].Data), len(r.Assets))
	}
	var ethUSD *big.Int
	if len(res) > 1 {
		if res[1].Err != nil || len(res[1].Data) < 64 {
			return nil, fmt.Errorf("%w: ETH/USD feed %s latestRoundData at block %d on %s: %x (%v)", ErrNoPrice, lower(p.cfg.ETHUSDFeed), block, p.cfg.Chain, res[1].Data, res[1].Err)
		}
		ethUSD = new(big.Int).SetBytes(res[1].Data[32:64]) // answer, int256; a negative answer has the top bit set
		if res[1].Data[32]&0x80 != 0 || ethUSD.Sign() == 0 {
			return nil, fmt.Errorf("%w: ETH/USD feed %s answered %s at block %d on %s", ErrNoPrice, lower(p.cfg.ETHUSDFeed), ethUSD, block, p.cfg.Chain)
		}
	}
	m := make(map[common.Address]*big.Int, len(vals))
	for k, a := range r.Assets {
		if vals[k].Sign() == 0 {
			return nil, fmt.Errorf("%w: asset %s at block %d on %s has price 0", ErrNoPrice, lower(a), block, p.cfg.Chain)
		}
		v := vals[k]
		if ethUSD != nil { // wei per token × USD e8 per ETH / 1e18
			v = new(big.Int).Quo(new(big.Int).Mul(v, ethUSD), weiPerETH)
		}
		m[a] = v
	}
	return m, nil
}

// Value returns amount × priceE8 / 10^decimals in 1e-8 USD, truncated.
func Value(amount *uint256.Int, priceE8 *big.Int, decimals uint8) *big.Int {
	return usd.Value(amount.ToBig(), priceE8, decimals)
}

func cacheKey(block uint64, sorted []common.Address) string {
	b := make([]byte, 8, 8+20*len(sorted))
	binary.BigEndian.PutUint64(b, block)
	for _, a := range sorted {
		b = append(b, a[:]...)
	}
	return string(b)
}

// EncodeGetAssetsPrices returns the calldata of getAssetsPrices(assets).
func EncodeGetAssetsPrices(assets []common.Address) []byte {
	b := make([]byte, 4+64+32*len(assets))
	copy(b, SelGetAssetsPrices[:])
	b[4+31] = 0x20
	binary.BigEndian.PutUint64(b[4+56:4+64], uint64(len(assets)))
	for i, a := range assets {
		copy(b[4+64+32*i+12:], a[:])
	}
	return b
}

// decodeUintArray reads an ABI-encoded uint256[] return value.
func decodeUintArray(b []byte) ([]*big.Int, bool) {
	if len(b) < 64 || len(b)%32 != 0 {
		return nil, false
	}
	off := new(big.Int).SetBytes(b[:32])
	if !off.IsUint64() || off.Uint64()+32 > uint64(len(b)) {
		return nil, false
	}
	o := off.Uint64()
	n := new(big.Int).SetBytes(b[o : o+32])
	if !n.IsUint64() || o+32+32*n.Uint64() > uint64(len(b)) {
		return nil, false
	}
	out := make([]*big.Int, n.Uint64())
	for i := range out {
		s := o + 32 + 32*uint64(i)
		out[i] = new(big.Int).SetBytes(b[s : s+32])
	}
	return out, true
}

// DecodeSymbol reads a symbol() answer: an ABI string, or a bytes32 padded
// with zeros as some old tokens (MKR, SAI) return.
func DecodeSymbol(b []byte) (string, bool) {
	if len(b) == 32 {
		s := strings.TrimRight(string(b), "\x00")
		return s, utf8.ValidString(s) && !strings.ContainsRune(s, 0)
	}
	if len(b) < 64 {
		return "", false
	}
	off := new(big.Int).SetBytes(b[:32])
	if !off.IsUint64() || off.Uint64()+32 > uint64(len(b)) {
		return "", false
	}
	o := off.Uint64()
	n := new(big.Int).SetBytes(b[o : o+32])
	if !n.IsUint64() || o+32+n.Uint64() > uint64(len(b)) {
		return "", false
	}
	s := string(b[o+32 : o+32+n.Uint64()])
	return s, utf8.ValidString(s)
}

func decodeDecimals(b []byte) (uint8, bool) {
	if len(b) != 32 {
		return 0, false
	}
	v := new(big.Int).SetBytes(b)
	if !v.IsUint64() || v.Uint64() > uint64(maxTokenDecimals) {
		return 0, false
	}
	return uint8(v.Uint64()), true
}

func lower(a common.Address) string { return strings.ToLower(a.Hex()) }
