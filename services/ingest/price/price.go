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
	SelGetAssetPrice     = [4]byte{0xb3, 0x59, 0x6f, 0x07} // getAssetPrice(address)
	SelGetAssetsPrices   = [4]byte{0x9d, 0x23, 0xd9, 0xf2} // getAssetsPrices(address[])
	SelBaseCurrencyUnit  = [4]byte{0x8c, 0x89, 0xb6, 0x4f} // BASE_CURRENCY_UNIT()
	SelSymbol            = [4]byte{0x95, 0xd8, 0x9b, 0x41} // symbol()
	SelDecimals          = [4]byte{0x31, 0x3c, 0xe5, 0x67} // decimals()
	supportedBaseUnitE8  = big.NewInt(100_000_000)
	maxTokenDecimals     = 77 // usd.Pow10 range
	defaultPriceCacheLen = 100_000
)

// Sentinels wrapped by the errors of this package.
var (
	ErrUnsupportedBase = errors.New("oracle base currency is not USD with 8 decimals")
	ErrBadToken        = errors.New("token metadata call failed or returned garbage")
	ErrNoPrice         = errors.New("oracle returned no price")
)

// Caller is the RPC the Pricer needs; *rpc.Client implements it.
type Caller interface {
	CallBatch(ctx context.Context, calls []rpc.Call) ([]rpc.CallResult, error)
}

var _ Caller = (*rpc.Client)(nil)

// Config configures a Pricer.
type Config struct {
	Chain  string
	Oracle common.Address
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
	baseRead bool
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
	return &Pricer{cfg: cfg, log: log, caller: caller, tokens: map[common.Address]Token{}, prices: map[string]map[common.Address]*big.Int{}}, nil
}

// CheckBase reads BASE_CURRENCY_UNIT at block once per Pricer and fails with
// ErrUnsupportedBase unless it is 1e8.
func (p *Pricer) CheckBase(ctx context.Context, block uint64) error {
	p.mu.Lock()
	done := p.baseRead
	p.mu.Unlock()
	if done {
		return nil
	}
	res, err := p.caller.CallBatch(ctx, []rpc.Call{{To: p.cfg.Oracle, Data: SelBaseCurrencyUnit[:], Block: block}})
	if err != nil {
		return fmt.Errorf("reading BASE_CURRENCY_UNIT of oracle %s on %s: %w", lower(p.cfg.Oracle), p.cfg.Chain, err)
	}
	if res[0].Err != nil || len(res[0].Data) != 32 {
		return fmt.Errorf("reading BASE_CURRENCY_UNIT of oracle %s on %s: bad answer %x (%v)", lower(p.cfg.Oracle), p.cfg.Chain, res[0].Data, res[0].Err)
	}
	unit := new(big.Int).SetBytes(res[0].Data)
	if unit.Cmp(supportedBaseUnitE8) != 0 {
		return fmt.Errorf("oracle %s on %s has BASE_CURRENCY_UNIT %s: %w", lower(p.cfg.Oracle), p.cfg.Chain, unit, ErrUnsupportedBase)
	}
	p.mu.Lock()
	p.baseRead = true
	p.mu.Unlock()
	return nil
}

// Tokens returns metadata for addrs, reading unknown tokens with one batch
// of symbol() and decimals() calls at block. A token whose calls fail is
// missing from the map and reported in the returned per-token errors.
func (p *Pricer) Tokens(ctx context.Context, block uint64, addrs []common.Address) (map[common.Address]Token, map[common.Address]error, error) {
	out := make(map[common.Address]Token, len(addrs))
	var missing []common.Address
	p.mu.Lock()
	for _, a := range addrs {
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

// Prices answers every request, sending one getAssetsPrices call per request
// not cached, all in one JSON-RPC batch. The result is indexed like reqs; a
// request whose call failed has a nil map and an error in errs.
func (p *Pricer) Prices(ctx context.Context, reqs []Request) ([]map[common.Address]*big.Int, []error, error) {
	out := make([]map[common.Address]*big.Int, len(reqs))
	errs := make([]error, len(reqs))
	var calls []rpc.Call
	var idx []int
	keys := make([]string, len(reqs))
	p.mu.Lock()
	for i := range reqs {
		assets := slices.Clone(reqs[i].Assets)
		slices.SortFunc(assets, func(a, b common.Address) int { return strings.Compare(string(a[:]), string(b[:])) })
		assets = slices.Compact(assets)
		reqs[i].Assets = assets
		keys[i] = cacheKey(reqs[i].Block, assets)
		if m, ok := p.prices[keys[i]]; ok {
			out[i] = m
			continue
		}
		calls = append(calls, rpc.Call{To: p.cfg.Oracle, Data: EncodeGetAssetsPrices(assets), Block: reqs[i].Block})
		idx = append(idx, i)
	}
	p.mu.Unlock()
	if len(calls) == 0 {
		return out, errs, nil
	}
	res, err := p.caller.CallBatch(ctx, calls)
	if err != nil {
		return nil, nil, fmt.Errorf("reading oracle prices on %s: %w", p.cfg.Chain, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.prices)+len(idx) > p.cfg.CacheSize {
		p.prices = map[string]map[common.Address]*big.Int{}
	}
	for j, i := range idx {
		r := reqs[i]
		if res[j].Err != nil {
			errs[i] = fmt.Errorf("getAssetsPrices at block %d on %s: %w", r.Block, p.cfg.Chain, res[j].Err)
			continue
		}
		vals, ok := decodeUintArray(res[j].Data)
		if !ok || len(vals) != len(r.Assets) {
			errs[i] = fmt.Errorf("%w: getAssetsPrices at block %d on %s returned %d bytes for %d assets", ErrNoPrice, r.Block, p.cfg.Chain, len(res[j].Data), len(r.Assets))
			continue
		}
		m := make(map[common.Address]*big.Int, len(vals))
		for k, a := range r.Assets {
			if vals[k].Sign() == 0 {
				errs[i] = fmt.Errorf("%w: asset %s at block %d on %s has price 0", ErrNoPrice, lower(a), r.Block, p.cfg.Chain)
			}
			m[a] = vals[k]
		}
		if errs[i] != nil {
			continue
		}
		p.prices[keys[i]] = m
		out[i] = m
	}
	return out, errs, nil
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
