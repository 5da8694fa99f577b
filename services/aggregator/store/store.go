package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/schemas"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// insertColumns is the explicit column list of every raw INSERT, in the order
// appendRow appends values.
const insertColumns = `chain_id, chain, protocol, market, pool, block_time, block_number, block_hash,
tx_hash, tx_index, log_index, borrower, liquidator,
collateral_token, collateral_symbol, collateral_decimals, debt_token, debt_symbol, debt_decimals,
collateral_amount_raw, debt_amount_raw, collateral_amount, debt_amount, receive_a_token,
collateral_price_usd, collateral_price_source, collateral_price_block,
debt_price_usd, debt_price_source, debt_price_block,
collateral_usd, debt_usd, bonus_usd, protocol_fee_amount_raw, protocol_fee_usd,
event_id, revision, status, method_version, log_topics, log_data, observed_at,
kafka_topic, kafka_partition, kafka_offset, ingested_at`

// bucketsPerStatement bounds the size of one rollup recomputation statement.
const bucketsPerStatement = 400

// WriteError says which step of a write failed after how many attempts.
type WriteError struct {
	// Step is "insert raw rows", "recompute daily rollup", ...
	Step     string
	Rows     int
	Attempts int
	Err      error
}

func (e *WriteError) Error() string {
	hint := "check that ClickHouse is reachable and healthy; the batch is safe to write again"
	var ex *clickhouse.Exception
	if errors.As(e.Err, &ex) && (ex.Code == 60 || ex.Code == 81 || ex.Code == 16 || ex.Code == 47) {
		hint = "the schema is missing or old: run `aggregator migrate` against this database"
	}
	return fmt.Sprintf("%s (%d rows, %d attempts): %v (%s)", e.Step, e.Rows, e.Attempts, e.Err, hint)
}

func (e *WriteError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a transient failure that writing the
// same batch again later may overcome: network errors, timeouts and server
// overload. Schema errors and invalid data are not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, // TIMEOUT_EXCEEDED
			202, // TOO_MANY_SIMULTANEOUS_QUERIES
			209, // SOCKET_TIMEOUT
			210, // NETWORK_ERROR
			236, // ABORTED
			241, // MEMORY_LIMIT_EXCEEDED
			252, // TOO_MANY_PARTS
			319, // UNKNOWN_STATUS_OF_INSERT
			425: // SYSTEM_ERROR
			return true
		}
		return false
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// Store writes liquidation rows and their rollups to ClickHouse.
type Store struct {
	cfg  Config
	log  *slog.Logger
	conn driver.Conn

	sqlDaily, sqlHourlyClear, sqlHourly string

	mu          sync.Mutex
	lastVersion uint64

	stored  metric.Int64Counter
	latency metric.Float64Histogram
}

// New connects to ClickHouse (lazily: the first statement dials) and
// prepares the writer. It runs no DDL: apply migrations first.
func New(cfg Config, log *slog.Logger, meter metric.Meter) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: cfg.Addr,
		Auth: clickhouse.Auth{
			Database: cfg.Database,
			Username: cfg.Username,
			Password: cfg.Password.Reveal(),
		},
		DialTimeout: cfg.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("opening ClickHouse connection to %v: %w (check clickhouse.addr)", cfg.Addr, err)
	}
	s, err := NewWithConn(cfg, log, meter, conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// NewWithConn is New over an open connection whose default database holds
// the liqstream tables (tests use it with testsupport.ClickHouseDB). Close
// closes conn.
func NewWithConn(cfg Config, log *slog.Logger, meter metric.Meter, conn driver.Conn) (*Store, error) {
	s := &Store{cfg: cfg, log: log, conn: conn}
	var err error
	for _, q := range []struct {
		name string
		dst  *string
	}{{"rollup_daily", &s.sqlDaily}, {"rollup_hourly_clear", &s.sqlHourlyClear}, {"rollup_hourly", &s.sqlHourly}} {
		if *q.dst, err = schemas.Query(q.name); err != nil {
			return nil, err
		}
	}
	if s.stored, err = meter.Int64Counter("events_stored",
		metric.WithDescription("Liquidation rows written to ClickHouse (replays included)."), metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("creating metric events_stored: %w", err)
	}
	if s.latency, err = meter.Float64Histogram("insert_latency",
		metric.WithDescription("Duration of one ClickHouse write step (raw insert or rollup recomputation), retries included."),
		metric.WithUnit("s")); err != nil {
		return nil, fmt.Errorf("creating metric insert_latency: %w", err)
	}
	return s, nil
}

// Conn returns the store's connection, for queries.
func (s *Store) Conn() driver.Conn { return s.conn }

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// WriteBatch inserts rows and recomputes the rollup buckets they touch; see
// the package documentation for its guarantees. An empty batch does nothing.
func (s *Store) WriteBatch(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	if err := s.retry(ctx, "insert raw rows", len(rows), func(ctx context.Context) error {
		return s.insertRaw(ctx, rows, ingestedAt)
	}); err != nil {
		return err
	}
	s.stored.Add(ctx, int64(len(rows)))
	return s.recompute(ctx, touched(rows), len(rows))
}

// Recompute rebuilds the daily and hourly rollups of every chain in
// chainIDs (with their slugs as stored in the rollups) for the UTC days from
// the day of from to the day before to. Use it after changing raw rows by
// hand; WriteBatch needs no help.
func (s *Store) Recompute(ctx context.Context, chains map[uint64]string, from, to time.Time) error {
	var bs []bucket
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		for id, slug := range chains {
			bs = append(bs, bucket{chainID: id, chain: slug, day: d})
		}
	}
	return s.recompute(ctx, bs, 0)
}

type bucket struct {
	chainID uint64
	chain   string
	day     time.Time
}

// touched returns the (chain, day) buckets of rows, sorted.
func touched(rows []Row) []bucket {
	seen := map[[2]int64]bool{}
	var out []bucket
	for _, r := range rows {
		day := r.Day()
		k := [2]int64{int64(r.ev.GetChainId()), day.Unix()}
		if !seen[k] {
			seen[k] = true
			out = append(out, bucket{chainID: r.ev.GetChainId(), chain: r.ev.GetChain(), day: day})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].chainID != out[j].chainID {
			return out[i].chainID < out[j].chainID
		}
		return out[i].day.Before(out[j].day)
	})
	return out
}

// nextVersion returns an even rollup version larger than every earlier one
// of this process, from the clock: hourly recomputation uses version and
// version+1.
func (s *Store) nextVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(time.Now().UnixNano()) * 2
	if v <= s.lastVersion {
		v = s.lastVersion + 2
	}
	s.lastVersion = v
	return v
}

func (s *Store) recompute(ctx context.Context, buckets []bucket, rows int) error {
	for len(buckets) > 0 {
		n := min(len(buckets), bucketsPerStatement)
		chunk := buckets[:n]
		buckets = buckets[n:]
		args := bucketArgs(chunk, s.nextVersion())
		// Order matters for readers: daily first, then the hourly data rows
		// (version+1), then the hourly clear rows (version), so no reader
		// sees a regression to zero while the statements run.
		for _, st := range []struct{ step, sql string }{
			{"recompute daily rollup", s.sqlDaily},
			{"recompute hourly rollup", s.sqlHourly},
			{"clear emptied hours of the hourly rollup", s.sqlHourlyClear},
		} {
			if err := s.retry(ctx, st.step, rows, func(ctx context.Context) error {
				return s.conn.Exec(ctx, st.sql, args...)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func bucketArgs(bs []bucket, version uint64) []any {
	ids := make([]uint64, len(bs))
	days := make([]string, len(bs))
	idSet := map[uint64]bool{}
	daySet := map[string]bool{}
	var idList, dayList []any
	for i, b := range bs {
		ids[i] = b.chainID
		days[i] = b.day.Format(time.DateOnly)
		if !idSet[b.chainID] {
			idSet[b.chainID] = true
			idList = append(idList, b.chainID)
		}
		if !daySet[days[i]] {
			daySet[days[i]] = true
			dayList = append(dayList, days[i])
		}
	}
	return []any{
		clickhouse.Named("chain_ids", ids),
		clickhouse.Named("days", days),
		clickhouse.Named("chain_set", clickhouse.GroupSet{Value: idList}),
		clickhouse.Named("day_set", clickhouse.GroupSet{Value: dayList}),
		clickhouse.Named("version", version),
	}
}

func (s *Store) insertRaw(ctx context.Context, rows []Row, ingestedAt time.Time) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO liquidations ("+insertColumns+")")
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	for _, r := range rows {
		if err := appendRow(batch, r, ingestedAt); err != nil {
			return fmt.Errorf("appending event %s: %w", r.ev.GetEventId(), err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending insert: %w", err)
	}
	return nil
}

func appendRow(b driver.Batch, r Row, ingestedAt time.Time) error {
	ev := r.ev
	topics := ev.GetLogTopics()
	if topics == nil {
		topics = []string{}
	}
	var receive uint8
	if ev.GetReceiveAToken() {
		receive = 1
	}
	return b.Append(
		ev.GetChainId(), ev.GetChain(), ev.GetProtocol(), ev.GetMarket(), ev.GetPool(),
		r.blockTime, ev.GetBlockNumber(), ev.GetBlockHash(),
		ev.GetTxHash(), ev.GetTxIndex(), ev.GetLogIndex(), ev.GetBorrower(), ev.GetLiquidator(),
		ev.GetCollateralAsset().GetAddress(), ev.GetCollateralAsset().GetSymbol(), ev.GetCollateralAsset().GetDecimals(),
		ev.GetDebtAsset().GetAddress(), ev.GetDebtAsset().GetSymbol(), ev.GetDebtAsset().GetDecimals(),
		r.collateralRaw, r.debtRaw, r.collateralAmount, r.debtAmount, receive,
		r.collateralPrice, r.collateralSource, r.collateralPriceBlock,
		r.debtPrice, r.debtSource, r.debtBlock,
		r.collateralUSD, r.debtUSD, r.bonusUSD, r.feeRaw, r.feeUSD,
		ev.GetEventId(), ev.GetRevision(), r.status, ev.GetMethodVersion(), topics, ev.GetLogData(), r.observedAt,
		r.at.Topic, r.at.Partition, r.at.Offset, ingestedAt,
	)
}

// retry runs op with a per-attempt timeout until it succeeds, fails with a
// non-retryable error, ctx ends or MaxAttempts is reached.
func (s *Store) retry(ctx context.Context, step string, rows int, op func(context.Context) error) error {
	start := time.Now()
	defer func() {
		s.latency.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("step", step)))
	}()
	wait := s.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &WriteError{Step: step, Rows: rows, Attempts: attempt, Err: errors.Join(ctx.Err(), err)}
		}
		if !IsRetryable(err) || attempt >= s.cfg.MaxAttempts {
			return &WriteError{Step: step, Rows: rows, Attempts: attempt, Err: err}
		}
		s.log.Warn("ClickHouse write failed, retrying", "step", step, "rows", rows, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return &WriteError{Step: step, Rows: rows, Attempts: attempt, Err: errors.Join(ctx.Err(), err)}
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
