package report

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// Errors callers can test for with errors.Is.
var (
	// ErrConfig wraps Config.Validate errors and bad filters.
	ErrConfig = errors.New("invalid report config")
	// ErrClickHouse means ClickHouse could not be reached or lacks the tables.
	ErrClickHouse = errors.New("clickhouse unavailable")
	// ErrNoData means the window holds no confirmed liquidation on the
	// selected chains (and protocol).
	ErrNoData = errors.New("no liquidations in the window")
)

// Config selects what a report covers.
type Config struct {
	// From and To bound the window [From, To), UTC.
	From time.Time `yaml:"from"`
	To   time.Time `yaml:"to"`
	// Chains are slugs or ids; empty means every chain with events.
	Chains []string `yaml:"chains"`
	// Protocol, e.g. "aave-v3"; empty means all.
	Protocol string `yaml:"protocol"`
	// Waves configures wave detection (default K=3, 14 trailing days).
	Waves query.WaveConfig `yaml:"waves"`
	// Top is the length of the asset and liquidator rankings (default 10).
	Top int `yaml:"top"`
}

// DefaultConfig returns the defaults; From and To must still be set.
func DefaultConfig() Config {
	return Config{Waves: query.DefaultWaveConfig(), Top: 10}
}

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	switch {
	case c.From.IsZero() || c.To.IsZero():
		return fmt.Errorf("%w: from and to are required (UTC dates like 2026-01-01 or RFC3339 times)", ErrConfig)
	case !c.To.After(c.From):
		return fmt.Errorf("%w: to %s must be after from %s (the window is [from, to))", ErrConfig, fmtTime(c.To), fmtTime(c.From))
	case c.From.Before(time.Unix(0, 0)):
		return fmt.Errorf("%w: from %s is before 1970", ErrConfig, fmtTime(c.From))
	case c.Top < 1 || c.Top > 1000:
		return fmt.Errorf("%w: top is %d, want 1..1000", ErrConfig, c.Top)
	}
	if err := c.Waves.Validate(); err != nil {
		return fmt.Errorf("%w: waves: %w", ErrConfig, err)
	}
	return nil
}

// ClickHouseConfig says where the liqstream tables are.
type ClickHouseConfig struct {
	Addr     string        `yaml:"addr"`
	Database string        `yaml:"database"`
	Username string        `yaml:"username"`
	Password secret.String `yaml:"password"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Connect opens a connection to c and checks that the liqstream tables
// exist; errors wrap ErrClickHouse and say what to do.
func Connect(ctx context.Context, c ClickHouseConfig) (driver.Conn, error) {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{c.Addr},
		Auth:        clickhouse.Auth{Database: c.Database, Username: c.Username, Password: c.Password.Reveal()},
		DialTimeout: c.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: opening a connection to %s: %w (check --clickhouse-addr)", ErrClickHouse, c.Addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*c.Timeout)
	defer cancel()
	var n uint64
	err = conn.QueryRow(pctx, `SELECT count() FROM system.tables WHERE database = @db
		AND name IN ('liquidations', 'liquidations_hourly', 'liquidations_daily', 'bad_debt',
		'liquidations_pair_daily', 'liquidations_liquidator_daily')`, clickhouse.Named("db", c.Database)).Scan(&n)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: cannot query ClickHouse at %s: %w (is the server running? check --clickhouse-addr, $CLICKHOUSE_PASSWORD and --database; scripts/clickhouse-start.sh starts a local one)",
			ErrClickHouse, c.Addr, err)
	}
	if n < 6 {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: database %s lacks the liqstream tables (found %d of 6); run `liqstream migrate --database %s`",
			ErrClickHouse, c.Database, n, c.Database)
	}
	return conn, nil
}

// Report is the result of Build. USD figures are in 1e-8 USD.
type Report struct {
	From, To time.Time
	// Chains are the per-chain totals of the selected chains, with shares
	// recomputed over them (Collateral/Debt/EventsShare).
	Chains []query.ChainSummary
	// Total sums Chains; its Txs and Borrowers are sums of per-chain
	// distinct counts.
	Total query.ChainSummary
	// Daily is the per-chain daily series of the window (any bounds).
	Daily []query.DailyPoint
	// Waves is nil when the window is not whole UTC days.
	Waves *query.WaveReport
	// BadDebt has the whole window as wave 0 and the detected waves as 1...
	BadDebt []query.WaveBadDebt
	// BadDebtWindows are the windows BadDebt's Wave indexes.
	BadDebtWindows []query.Window
	// CollateralAssets and DebtAssets rank tokens per chain by collateral
	// seized and debt repaid; nil when the window is not whole UTC days.
	CollateralAssets, DebtAssets []Asset
	// Liquidators is nil when the window is not whole UTC days or chains
	// were filtered.
	Liquidators *query.LiquidatorReport
	// Protocols lists the protocols seen per chain (chain slug → protocols).
	Protocols map[string][]string
	// Notes explain which source and filter each section used.
	Notes []string
	// Comparison is set by Compare.
	Comparison []Compared
}

// Asset is one token's liquidations on one chain over the window.
type Asset struct {
	ChainID uint64
	Chain   string
	Token   string
	Symbol  string
	// USD is collateral seized (collateral ranking) or debt repaid (debt
	// ranking).
	USD    *big.Int
	Events uint64
}

// presence is one (chain, protocol) with confirmed events in the window.
type presence struct {
	chainID  uint64
	chain    string
	protocol string
	events   uint64
}

// probe lists the chains and protocols with confirmed events in [from, to)
// from the raw table. It sums no Decimal, so an empty window is safe.
func probe(ctx context.Context, conn driver.Conn, from, to time.Time) ([]presence, error) {
	const sql = `SELECT chain_id, max(chain) AS chain, protocol, countIf(ok) AS events
FROM
(
    SELECT chain_id, chain, protocol,
        status = 'CONFIRMED' AND block_time >= @from AND block_time < @to AS ok
    FROM liquidations FINAL
    WHERE block_date >= toDate(@from) AND block_date <= toDate(@to)
)
GROUP BY chain_id, protocol
HAVING events > 0
ORDER BY chain_id, protocol`
	rows, err := conn.Query(ctx, sql, clickhouse.Named("from", from.UTC().Truncate(time.Second)), clickhouse.Named("to", to.UTC().Truncate(time.Second)))
	if err != nil {
		return nil, fmt.Errorf("listing the chains and protocols of the window: %w", err)
	}
	defer rows.Close()
	var out []presence
	for rows.Next() {
		var p presence
		if err := rows.Scan(&p.chainID, &p.chain, &p.protocol, &p.events); err != nil {
			return nil, fmt.Errorf("listing the chains and protocols of the window: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// resolveChains maps slugs or ids (comma lists allowed) to chain ids.
func resolveChains(reg *chains.Registry, in []string) (map[uint64]bool, error) {
	keep := map[uint64]bool{}
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			c, err := reg.Lookup(part)
			if err != nil {
				return nil, fmt.Errorf("%w: chain: %w", ErrConfig, err)
			}
			keep[c.ID] = true
		}
	}
	return keep, nil
}

// Build reads every section of the report.
func Build(ctx context.Context, conn driver.Conn, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keep, err := resolveChains(chains.Default(), cfg.Chains)
	if err != nil {
		return nil, err
	}
	from, to := cfg.From.UTC(), cfg.To.UTC()
	r := &Report{From: from, To: to, Protocols: map[string][]string{}}
	pres, err := probe(ctx, conn, from, to)
	if err != nil {
		return nil, err
	}
	byChain := map[uint64][]presence{}
	allProtocols := map[string]bool{}
	for _, p := range pres {
		allProtocols[p.protocol] = true
		if len(keep) == 0 || keep[p.chainID] {
			byChain[p.chainID] = append(byChain[p.chainID], p)
			r.Protocols[p.chain] = append(r.Protocols[p.chain], p.protocol)
		}
	}
	scope := fmt.Sprintf("[%s, %s)", fmtTime(from), fmtTime(to))
	if len(keep) > 0 {
		scope += " on the selected chains"
	}
	if len(byChain) == 0 {
		return nil, fmt.Errorf("%w: no confirmed liquidation in %s; check the window and --chain, or load data (liqstream demo, the ingest and aggregator services)", ErrNoData, scope)
	}
	// selected holds the chain ids the report covers.
	selected := map[uint64]bool{}
	if cfg.Protocol != "" {
		if !allProtocols[cfg.Protocol] {
			names := sortedKeys(allProtocols)
			return nil, fmt.Errorf("%w: protocol %q has no liquidation in [%s, %s); protocols present: %s", ErrConfig, cfg.Protocol, fmtTime(from), fmtTime(to), strings.Join(names, ", "))
		}
		var mixed []string
		for id, ps := range byChain {
			has := false
			for _, p := range ps {
				has = has || p.protocol == cfg.Protocol
			}
			if !has {
				continue
			}
			if len(ps) > 1 {
				mixed = append(mixed, fmt.Sprintf("%s (%s)", ps[0].chain, strings.Join(r.Protocols[ps[0].chain], ", ")))
			}
			selected[id] = true
		}
		if len(mixed) > 0 {
			sort.Strings(mixed)
			return nil, fmt.Errorf("%w: --protocol %s cannot be applied exactly: the rollups the report reads have no protocol column and these chains mix protocols: %s; leave those chains out with --chain",
				ErrConfig, cfg.Protocol, strings.Join(mixed, "; "))
		}
		if len(selected) == 0 {
			return nil, fmt.Errorf("%w: protocol %q has no liquidation %s", ErrNoData, cfg.Protocol, scope)
		}
		r.Notes = append(r.Notes, fmt.Sprintf("--protocol %s: applied by keeping the chains whose events in the window all belong to it (the rollups have no protocol column; a chain mixing protocols would be refused).", cfg.Protocol))
	} else {
		for id := range byChain {
			selected[id] = true
		}
	}
	chainFiltered := len(keep) > 0 || cfg.Protocol != ""
	if chainFiltered {
		r.Notes = append(r.Notes, "Chain filter: per-chain rows of the summary, daily series, asset pairs and bad debt kept in Go (exact); waves computed by query.DailyWaves over the selected chains; top liquidators left out (the ranking sums all chains).")
	}
	if err := r.readSummary(ctx, conn, selected); err != nil {
		return nil, err
	}
	if err := r.readDaily(ctx, conn, selected); err != nil {
		return nil, err
	}
	days := aligned(from, 24*time.Hour) && aligned(to, 24*time.Hour)
	if !days {
		r.Notes = append(r.Notes, "The window is not whole UTC days: waves, top assets and top liquidators (read from daily rollups) are left out.")
	}
	if days {
		wc := cfg.Waves
		wc.ChainIDs = sortedIDs(selected)
		wr, err := query.DailyWaves(ctx, conn, from, to, wc)
		if err != nil {
			return nil, fmt.Errorf("detecting waves: %w", err)
		}
		r.Waves = &wr
		r.Notes = append(r.Notes, fmt.Sprintf("Waves: days whose events or collateral USD exceed %g × the median of the %d days before (query.DailyWaves, rule %s).", wc.K, wc.TrailingDays, wc.Rule))
	}
	if err := r.readBadDebt(ctx, conn, selected); err != nil {
		return nil, err
	}
	if days {
		pairs, err := query.AssetPairs(ctx, conn, from, to)
		if err != nil {
			return nil, fmt.Errorf("reading asset pairs: %w", err)
		}
		r.CollateralAssets, r.DebtAssets = rankAssets(pairs, selected, cfg.Top)
		if !chainFiltered {
			lr, err := query.TopLiquidators(ctx, conn, from, to, cfg.Top)
			if err != nil {
				return nil, fmt.Errorf("reading top liquidators: %w", err)
			}
			r.Liquidators = &lr
		}
	}
	return r, nil
}

func (r *Report) readSummary(ctx context.Context, conn driver.Conn, selected map[uint64]bool) error {
	var (
		sums []query.ChainSummary
		err  error
	)
	if aligned(r.From, time.Hour) && aligned(r.To, time.Hour) {
		sums, err = query.CycleSummary(ctx, conn, r.From, r.To)
		r.Notes = append(r.Notes, "Per-chain table: query.CycleSummary (hourly rollup, exact distinct counts).")
	} else {
		sums, err = query.CycleSummaryRaw(ctx, conn, r.From, r.To)
		r.Notes = append(r.Notes, "Per-chain table: query.CycleSummaryRaw (raw table; the window is not whole UTC hours).")
	}
	if err != nil {
		return fmt.Errorf("reading the per-chain summary: %w", err)
	}
	r.Total = query.ChainSummary{Chain: "total", CollateralUSD: new(big.Int), DebtUSD: new(big.Int)}
	for _, s := range sums {
		if !selected[s.ChainID] {
			continue
		}
		r.Chains = append(r.Chains, s)
		r.Total.CollateralUSD.Add(r.Total.CollateralUSD, s.CollateralUSD)
		r.Total.DebtUSD.Add(r.Total.DebtUSD, s.DebtUSD)
		r.Total.Events += s.Events
		r.Total.Txs += s.Txs
		r.Total.Borrowers += s.Borrowers
	}
	for i := range r.Chains {
		s := &r.Chains[i]
		s.CollateralShare = ratio(s.CollateralUSD, r.Total.CollateralUSD)
		s.DebtShare = ratio(s.DebtUSD, r.Total.DebtUSD)
		s.EventsShare = ratio(new(big.Int).SetUint64(s.Events), new(big.Int).SetUint64(r.Total.Events))
	}
	r.Total.CollateralShare, r.Total.DebtShare, r.Total.EventsShare = 1, 1, 1
	return nil
}

func (r *Report) readDaily(ctx context.Context, conn driver.Conn, selected map[uint64]bool) error {
	var (
		pts []query.DailyPoint
		err error
	)
	if aligned(r.From, 24*time.Hour) && aligned(r.To, 24*time.Hour) {
		pts, err = query.DailySeries(ctx, conn, r.From, r.To)
	} else {
		pts, err = query.DailySeriesRaw(ctx, conn, r.From, r.To)
	}
	if err != nil {
		return fmt.Errorf("reading the daily series: %w", err)
	}
	for _, p := range pts {
		if selected[p.ChainID] {
			r.Daily = append(r.Daily, p)
		}
	}
	return nil
}

func (r *Report) readBadDebt(ctx context.Context, conn driver.Conn, selected map[uint64]bool) error {
	r.BadDebtWindows = []query.Window{{From: r.From, To: r.To}}
	if r.Waves != nil {
		for _, w := range r.Waves.Waves {
			r.BadDebtWindows = append(r.BadDebtWindows, w.Window)
		}
	}
	rows, err := query.BadDebtByWave(ctx, conn, r.BadDebtWindows)
	if err != nil {
		return fmt.Errorf("reading bad debt: %w", err)
	}
	for _, b := range rows {
		if selected[b.ChainID] {
			r.BadDebt = append(r.BadDebt, b)
		}
	}
	return nil
}

// rankAssets sums the pairs per (chain, collateral token) and per (chain,
// debt token) and returns the top n of each, largest first.
func rankAssets(pairs []query.PairFigures, selected map[uint64]bool, n int) (coll, debt []Asset) {
	type key struct {
		chain uint64
		token string
	}
	sum := func(get func(query.PairFigures) (string, string, *big.Int)) []Asset {
		m := map[key]*Asset{}
		for _, p := range pairs {
			if !selected[p.ChainID] {
				continue
			}
			tok, sym, v := get(p)
			k := key{p.ChainID, tok}
			a := m[k]
			if a == nil {
				a = &Asset{ChainID: p.ChainID, Chain: p.Chain, Token: tok, Symbol: sym, USD: new(big.Int)}
				m[k] = a
			}
			a.USD.Add(a.USD, v)
			a.Events += p.Events
		}
		out := make([]Asset, 0, len(m))
		for _, a := range m {
			out = append(out, *a)
		}
		sort.Slice(out, func(i, j int) bool {
			if c := out[i].USD.Cmp(out[j].USD); c != 0 {
				return c > 0
			}
			if out[i].ChainID != out[j].ChainID {
				return out[i].ChainID < out[j].ChainID
			}
			return out[i].Token < out[j].Token
		})
		return out[:min(n, len(out))]
	}
	coll = sum(func(p query.PairFigures) (string, string, *big.Int) {
		return p.CollateralToken, p.CollateralSymbol, p.CollateralUSD
	})
	debt = sum(func(p query.PairFigures) (string, string, *big.Int) { return p.DebtToken, p.DebtSymbol, p.DebtUSD })
	return coll, debt
}

// ratio returns part/total rounded once to float64, 0 when total is 0.
func ratio(part, total *big.Int) float64 {
	if total.Sign() == 0 {
		return 0
	}
	f, _ := new(big.Rat).SetFrac(part, total).Float64()
	return f
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedIDs(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
