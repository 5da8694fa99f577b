package sim

import (
	"encoding/binary"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// curve names a price path shared by assets with the same underlying.
type curve uint8

const (
	curveETH curve = iota + 1
	curveBTC
	curveFlat // stablecoins: 1.00 USD with a small jitter
)

// Asset is one token listed on a simulated market.
type Asset struct {
	Address  common.Address
	Symbol   string
	Name     string
	Decimals uint8
	// Bytes32Symbol marks tokens whose symbol() returns bytes32 rather than
	// string (MKR), a real-world quirk consumers must handle.
	Bytes32Symbol bool

	curve    curve
	num, den int64  // price = curve(t) · num / den
	jitter   string // key of the hourly jitter series; equal keys move together
	collW    int    // weight as collateral in liquidations
	debtW    int    // weight as debt in liquidations
}

// a is shorthand for the asset tables below.
func a(addr, sym, name string, dec uint8, c curve, num, den int64, jitter string, collW, debtW int) Asset {
	return Asset{Address: common.HexToAddress(addr), Symbol: sym, Name: name, Decimals: dec,
		curve: c, num: num, den: den, jitter: jitter, collW: collW, debtW: debtW}
}

// assetsFor returns the listed assets of a chain: real token addresses,
// symbols and decimals. Prices of non-ETH volatile assets follow the ETH
// curve scaled to their own level (ETH's curve starts at $3,300).
func assetsFor(chainID uint64) []Asset {
	switch chainID {
	case 1:
		mkr := a("0x9f8F72aA9304c8B593d555F12eF6589cC3A579A2", "MKR", "Maker", 18, curveETH, 1_600, 3_300, "ETH", 3, 0)
		mkr.Bytes32Symbol = true
		return []Asset{
			a("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "WETH", "Wrapped Ether", 18, curveETH, 1, 1, "ETH", 40, 12),
			a("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", "USD Coin", 6, curveFlat, 1, 1, "USDC", 4, 45),
			a("0xdAC17F958D2ee523a2206206994597C13D831ec7", "USDT", "Tether USD", 6, curveFlat, 1, 1, "USDT", 2, 35),
			a("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", "WBTC", "Wrapped BTC", 8, curveBTC, 1, 1, "BTC", 20, 3),
			a("0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0", "wstETH", "Wrapped liquid staked Ether 2.0", 18, curveETH, 121, 100, "ETH", 25, 2),
			mkr,
		}
	case 137:
		return []Asset{
			a("0x7ceB23fD6bC0adD59E62ac25578270cFf1b9f619", "WETH", "Wrapped Ether", 18, curveETH, 1, 1, "ETH", 35, 8),
			a("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "USDC", "USD Coin", 6, curveFlat, 1, 1, "USDC", 5, 45),
			a("0xc2132D05D31c914a87C6611C10748AEb04B58e8F", "USDT", "(PoS) Tether USD", 6, curveFlat, 1, 1, "USDT", 3, 35),
			a("0x1BFD67037B42Cf73acF2047067bd4F2C47D9BfD6", "WBTC", "(PoS) Wrapped BTC", 8, curveBTC, 1, 1, "BTC", 20, 2),
			a("0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270", "WPOL", "Wrapped Polygon Ecosystem Token", 18, curveETH, 38, 330_000, "ETH", 30, 10),
		}
	case 43114:
		return []Asset{
			a("0xB31f66AA3C1e785363F0875A1B74E27b85FD66c7", "WAVAX", "Wrapped AVAX", 18, curveETH, 14, 3_300, "ETH", 45, 10),
			a("0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", "USDC", "USD Coin", 6, curveFlat, 1, 1, "USDC", 5, 70),
			a("0x49D5c2BdFfac6CE2BFdB6640F4F80f226bc10bAB", "WETH.e", "Wrapped Ether", 18, curveETH, 1, 1, "ETH", 25, 8),
			a("0x152b9d0FdC40C096757F570A51E494bd4b943E50", "BTC.b", "Bitcoin", 8, curveBTC, 1, 1, "BTC", 25, 2),
		}
	case 42161:
		return []Asset{
			a("0x82aF49447D8a07e3bd95BD0d56f35241523fBab1", "WETH", "Wrapped Ether", 18, curveETH, 1, 1, "ETH", 50, 12),
			a("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USDC", "USD Coin", 6, curveFlat, 1, 1, "USDC", 5, 80),
			a("0x2f2a2543B76A4166549F7aaB2e75Bef0aefC5B0f", "WBTC", "Wrapped BTC", 8, curveBTC, 1, 1, "BTC", 25, 3),
			a("0x912CE59144191C1204E64559FE8253a0e49E6548", "ARB", "Arbitrum", 18, curveETH, 35, 33_000, "ETH", 20, 5),
		}
	case 8453:
		return []Asset{
			a("0x4200000000000000000000000000000000000006", "WETH", "Wrapped Ether", 18, curveETH, 1, 1, "ETH", 45, 12),
			a("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USDC", "USD Coin", 6, curveFlat, 1, 1, "USDC", 5, 85),
			a("0xcbB7C0000aB88B473b1f5aFd9ef808440eed33Bf", "cbBTC", "Coinbase Wrapped BTC", 8, curveBTC, 1, 1, "BTC", 30, 3),
			a("0x2Ae3F1Ec7F1F5012CFEab0185bfc7aa3cf0DEc22", "cbETH", "Coinbase Wrapped Staked ETH", 18, curveETH, 110, 100, "ETH", 20, 0),
		}
	}
	return nil
}

// keypoint is one point of a price curve: hours since 2026-01-01 and USD e8.
type keypoint struct{ h, e8 int64 }

// d converts days since 2026-01-01 (in tenths) and whole USD to a keypoint.
func d(tenthDays, usd int64) keypoint { return keypoint{h: tenthDays * 24 / 10, e8: usd * 1e8} }

// curvePoints returns the trend of a curve; it is flat before the first and
// after the last point. ETH: ~3300 → ~2000 in early February; BTC 94k → 62k.
// The dips line up with the liquidation waves.
func curvePoints(c curve) []keypoint {
	switch c {
	case curveETH:
		return []keypoint{d(0, 3300), d(70, 3380), d(130, 3250), d(145, 3050), d(155, 2950), d(180, 3080),
			d(270, 2980), d(285, 2700), d(295, 2600), d(310, 2450), d(325, 2250), d(340, 2000), d(355, 1980),
			d(380, 2100), d(450, 2150), d(520, 2050), d(590, 2120)}
	case curveBTC:
		return []keypoint{d(0, 94000), d(70, 95500), d(130, 93000), d(145, 89000), d(155, 87500), d(180, 89000),
			d(270, 86000), d(285, 80500), d(295, 79000), d(310, 75000), d(325, 69000), d(340, 63000), d(355, 62000),
			d(380, 65000), d(450, 66500), d(520, 64000), d(590, 65500)}
	}
	return []keypoint{d(0, 1)}
}

// trend interpolates a curve's keypoints at hour h.
func trend(pts []keypoint, h int64) int64 {
	if h <= pts[0].h {
		return pts[0].e8
	}
	for i := 1; i < len(pts); i++ {
		if h <= pts[i].h {
			p, q := pts[i-1], pts[i]
			return p.e8 + (q.e8-p.e8)*(h-p.h)/(q.h-p.h)
		}
	}
	return pts[len(pts)-1].e8
}

// pricer computes asset prices from the seed; it holds no mutable state
// after newPricer.
type pricer struct {
	seed   int64
	curves map[curve][]keypoint
	// jitter holds jitterPPM of each series for hours [h0, h0+len): the
	// hours of the window, so that a price costs no keccak there.
	h0     int64
	jitter map[string][]int64
}

// newPricer precomputes the jitter of every series of chains over the
// hours of [from, to) and two days around it.
func newPricer(seed int64, chains []uint64, from, to int64) pricer {
	p := pricer{seed: seed, curves: map[curve][]keypoint{
		curveETH: curvePoints(curveETH), curveBTC: curvePoints(curveBTC), curveFlat: curvePoints(curveFlat),
	}, jitter: map[string][]int64{}}
	p.h0 = floorDiv(from-anchorTime, 3600) - 48
	hours := floorDiv(to-anchorTime, 3600) + 48 - p.h0
	for _, id := range chains {
		for _, a := range assetsFor(id) {
			if p.jitter[a.jitter] != nil || hours <= 0 {
				continue
			}
			tab := make([]int64, hours)
			for i := range tab {
				tab[i] = p.computeJitterPPM(&a, p.h0+int64(i))
			}
			p.jitter[a.jitter] = tab
		}
	}
	return p
}

// jitterPPM returns the seeded jitter of a series at hour h in parts per
// million: ±0.6% for volatile assets, ±0.08% for stablecoins.
func (p pricer) jitterPPM(a *Asset, h int64) int64 {
	if tab := p.jitter[a.jitter]; h >= p.h0 && h-p.h0 < int64(len(tab)) {
		return tab[h-p.h0]
	}
	return p.computeJitterPPM(a, h)
}

func (p pricer) computeJitterPPM(a *Asset, h int64) int64 {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[0:], uint64(p.seed))
	binary.BigEndian.PutUint64(buf[8:], uint64(h))
	sum := crypto.Keccak256(buf[:], []byte(a.jitter))
	u := int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
	amp := int64(6_000)
	if a.curve == curveFlat {
		amp = 800
	}
	return u%(2*amp+1) - amp
}

// point is the price of an asset at the start of hour h.
func (p pricer) point(a *Asset, h int64) int64 {
	t := trend(p.curves[a.curve], h) * a.num / a.den
	return t + t*p.jitterPPM(a, h)/1_000_000
}

// priceE8 returns the oracle price of an asset (USD, 8 decimals) at unix
// time ts: hourly points interpolated linearly inside the hour.
func (p pricer) priceE8(a *Asset, ts int64) int64 {
	off := ts - anchorTime
	h := floorDiv(off, 3600)
	frac := off - h*3600
	p0, p1 := p.point(a, h), p.point(a, h+1)
	return p0 + (p1-p0)*frac/3600
}

// price is priceE8 as a big.Int.
func (p pricer) price(a *Asset, ts int64) *big.Int { return big.NewInt(p.priceE8(a, ts)) }
