package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// insertColumns is the explicit column list of every raw INSERT, in the order
// of newRawColumns' slices.
const insertColumns = `chain_id, chain, protocol, market, pool, block_time, block_number, block_hash,
tx_hash, tx_index, log_index, borrower, liquidator,
collateral_token, collateral_symbol, collateral_decimals, debt_token, debt_symbol, debt_decimals,
collateral_amount_raw, debt_amount_raw, collateral_amount, debt_amount, receive_a_token,
collateral_price_usd, collateral_price_source, collateral_price_block,
debt_price_usd, debt_price_source, debt_price_block,
collateral_usd, debt_usd, bonus_usd, protocol_fee_amount_raw, protocol_fee_usd,
event_id, revision, status, method_version, log_topics, log_data, observed_at,
kafka_topic, kafka_partition, kafka_offset, ingested_at, tombstone`

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
	if errors.As(e.Err, &ex) {
		switch ex.Code {
		case 60, 81, 16, 47: // UNKNOWN_TABLE, UNKNOWN_DATABASE, NO_SUCH_COLUMN_IN_TABLE, UNKNOWN_IDENTIFIER
			hint = "the schema is missing or old: run `aggregator migrate` against this database"
		case 192, 193, 516: // UNKNOWN_USER, WRONG_PASSWORD (18.16), AUTHENTICATION_FAILED (current)
			hint = "ClickHouse refused the credentials: check clickhouse.username and clickhouse.password"
		case 164, 497: // READONLY, ACCESS_DENIED
			hint = "the ClickHouse user may not write here (a read-only user such as analyst?): give the aggregator a user with INSERT on the database"
		}
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

	plan rollupPlan

	mu          sync.Mutex
	lastVersion uint64

	dropOrphanStages sync.Once                   // recompute.go: dropStaleStages once per process
	stageName        func(version uint64) string // recompute.go: stageName; tests fix it

	// blockSent, when set (tests), runs after each block but the last of a
	// raw INSERT is sent; an error it returns fails the insert there.
	blockSent func(rows int) error

	stored  metric.Int64Counter
	latency metric.Float64Histogram
	tracer  trace.Tracer // trace.go
}

// New connects to ClickHouse (lazily: the first statement dials) and
// prepares the writer. It runs no DDL: apply migrations first.
func New(cfg Config, log *slog.Logger, meter metric.Meter, opts ...Option) (*Store, error) {
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
	s, err := NewWithConn(cfg, log, meter, conn, opts...)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// NewWithConn is New over an open connection whose default database holds
// the liqstream tables (tests use it with testsupport.ClickHouseDB). Close
// closes conn.
func NewWithConn(cfg Config, log *slog.Logger, meter metric.Meter, conn driver.Conn, opts ...Option) (*Store, error) {
	s := &Store{cfg: cfg, log: log, conn: conn, stageName: stageName}
	for _, o := range append([]Option{WithTracerProvider(nil)}, opts...) {
		o(s)
	}
	var err error
	if s.plan, err = loadRollupPlan(); err != nil {
		return nil, err
	}
	if s.stored, err = meter.Int64Counter("events_stored",
		metric.WithDescription("Liquidation rows written to ClickHouse (replays included)."), metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("creating metric events_stored: %w", err)
	}
	if s.latency, err = meter.Float64Histogram("insert_latency",
		metric.WithDescription("Duration of one ClickHouse write step (raw insert or rollup recomputation), retries included."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
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
// It is Insert followed by Settle.
func (s *Store) WriteBatch(ctx context.Context, rows []Row) error {
	var u Unsettled
	if err := s.Insert(ctx, rows, &u); err != nil {
		return err
	}
	return s.Settle(ctx, &u)
}

// Unsettled collects the rollup buckets of rows Insert wrote that Settle has
// not recomputed yet. The zero value is empty. A consumer under backlog
// inserts many batches into one Unsettled and settles once, so the rollup
// recomputation (which reads every row of a touched bucket) runs once per
// commit instead of once per insert.
type Unsettled struct {
	buckets map[[2]int64]bucket
	rows    int
}

// Rows returns how many rows (tombstones included) were inserted into u since
// it was last settled.
func (u *Unsettled) Rows() int { return u.rows }

// Buckets returns how many (chain, day) buckets await recomputation.
func (u *Unsettled) Buckets() int { return len(u.buckets) }

func (u *Unsettled) add(rows []Row) {
	if u.buckets == nil {
		u.buckets = map[[2]int64]bucket{}
	}
	u.rows += len(rows)
	for i := range rows {
		r := &rows[i]
		day := r.Day()
		k := [2]int64{int64(r.ev.GetChainId()), day.Unix()}
		if _, ok := u.buckets[k]; !ok {
			u.buckets[k] = bucket{chainID: r.ev.GetChainId(), chain: r.ev.GetChain(), day: day}
		}
	}
}

// Insert writes rows to the raw table (one INSERT, retried while transient)
// with the tombstones that keep events moved to another UTC day by a later
// revision counted once (see tombstones), and adds the buckets they touch to
// u. The rollups do not reflect the rows
// until Settle(u) returns nil, so nothing may be acknowledged before that.
// An empty rows does nothing.
func (s *Store) Insert(ctx context.Context, rows []Row, u *Unsettled) error {
	if len(rows) == 0 {
		return nil
	}
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	var tombs []Row
	if err := s.retry(ctx, "look up earlier revisions on other days", len(rows), func(ctx context.Context) error {
		var err error
		tombs, err = s.tombstones(ctx, rows)
		return err
	}); err != nil {
		return err
	}
	all := rows
	if len(tombs) > 0 {
		all = append(append(make([]Row, 0, len(rows)+len(tombs)), rows...), tombs...)
	}
	ictx, span := s.startInsert(ctx, "liquidations", len(all))
	err := s.retry(ictx, "insert raw rows", len(all), func(ctx context.Context) error {
		return s.insertRaw(ctx, all, ingestedAt, len(tombs) > 0)
	})
	telemetry.EndSpan(span, err)
	if err != nil {
		return err
	}
	s.stored.Add(ctx, int64(len(rows)))
	u.add(all)
	return nil
}

// Settle recomputes every bucket in u from the raw table. When it returns
// nil the rollups reflect every row inserted into u, and u is empty again;
// on error u is kept, and settling it again is safe.
func (s *Store) Settle(ctx context.Context, u *Unsettled) error {
	if len(u.buckets) == 0 {
		*u = Unsettled{}
		return nil
	}
	bs := make([]bucket, 0, len(u.buckets))
	for _, b := range u.buckets {
		bs = append(bs, b)
	}
	sortBuckets(bs)
	if err := s.recompute(ctx, bs, u.rows); err != nil {
		return err
	}
	*u = Unsettled{}
	return nil
}

// insertChunkRows is how many rows insertRaw sends per block of its INSERT.
const insertChunkRows = 4096

// insertRaw writes rows with one INSERT, sent as blocks of insertChunkRows
// rows, or as one block when oneBlock is set.
//
// The client encodes a whole block in memory before sending it, so one
// block per batch held every column of the batch twice at once (built and
// encoded, about 150 MB at 20,000 rows: the biggest part of the
// aggregator's heap, and, under its memory limit, of its garbage
// collection); blocks of a few thousand rows reuse the same buffers. The
// server still gathers the blocks of one INSERT into one part
// (min_insert_block_size_rows, 1,048,576 rows by default).
//
// When the connection breaks after some blocks, the server may write the
// ones it received (18.16 does): a retry or a replay writes those rows again
// and they collapse, as any replayed row does. Rows that must land together,
// a revision moved to another day and the tombstones that keep it counted
// once, come with oneBlock set, so that no part of the batch is written
// without the rest.
func (s *Store) insertRaw(ctx context.Context, rows []Row, ingestedAt time.Time, oneBlock bool) error {
	chunk := insertChunkRows
	if oneBlock {
		chunk = len(rows)
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO liquidations ("+insertColumns+")")
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	cols := batch.Columns()
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		for i, c := range newRawColumns(rows[start:end], ingestedAt) {
			if d, ok := c.(decimal8Column); ok {
				err = appendDecimal8(cols[i], d.vs, d.nulls)
			} else {
				err = batch.Column(i).Append(c)
			}
			if err != nil {
				return fmt.Errorf("appending column %d of %d rows: %w", i, len(rows), err)
			}
		}
		if end == len(rows) {
			break
		}
		if err := batch.Flush(); err != nil {
			return fmt.Errorf("sending rows %d to %d of %d: %w", start, end, len(rows), err)
		}
		if s.blockSent != nil {
			if err := s.blockSent(end); err != nil {
				return err
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending insert: %w", err)
	}
	return nil
}

// decimal8Column is one Decimal(38, 8) column of newRawColumns, or a
// Nullable(Decimal(38, 8)) one when nulls is not nil; appendDecimal8 appends
// it.
type decimal8Column struct {
	vs    []decimal8
	nulls []uint8
}

func (c decimal8Column) set(i int, v nullDecimal8) {
	if !v.valid {
		c.nulls[i] = 1
		return
	}
	c.vs[i] = v.v
}

// newRawColumns lays rows out column by column in insertColumns' order, so
// the insert appends one typed slice per column instead of 46 boxed values
// per row (the per-row path dominated the client's CPU time). Decimal
// columns come as decimal8Column, every other one as a slice clickhouse-go
// appends.
func newRawColumns(rows []Row, ingestedAt time.Time) []any {
	n := len(rows)
	strs := func() []string { return make([]string, n) }
	u64s := func() []uint64 { return make([]uint64, n) }
	u32s := func() []uint32 { return make([]uint32, n) }
	times := func() []time.Time { return make([]time.Time, n) }
	decs := func() decimal8Column { return decimal8Column{vs: make([]decimal8, n)} }
	nullDecs := func() decimal8Column { return decimal8Column{vs: make([]decimal8, n), nulls: make([]uint8, n)} }
	var (
		chainID, blockNumber, collPriceBlock, debtPriceBlock, revision = u64s(), u64s(), u64s(), u64s(), u64s()
		chain, protocol, market, pool, blockHash, txHash               = strs(), strs(), strs(), strs(), strs(), strs()
		borrower, liquidator, collToken, collSymbol, debtToken         = strs(), strs(), strs(), strs(), strs()
		debtSymbol, collRaw, debtRaw, collSource, debtSource, feeRaw   = strs(), strs(), strs(), strs(), strs(), strs()
		eventID, status, methodVersion, logData, kafkaTopic            = strs(), strs(), strs(), strs(), strs()
		blockTime, observedAt, ingested                                = times(), times(), times()
		txIndex, logIndex, collDecimals, debtDecimals                  = u32s(), u32s(), u32s(), u32s()
		collAmount, debtAmount                                         = make([]float64, n), make([]float64, n)
		receive, tombstone                                             = make([]uint8, n), make([]uint8, n)
		collPrice, debtPrice, bonus, feeUSD                            = nullDecs(), nullDecs(), nullDecs(), nullDecs()
		collUSD, debtUSD                                               = decs(), decs()
		logTopics                                                      = make([][]string, n)
		partition                                                      = make([]int32, n)
		offset                                                         = make([]int64, n)
	)
	for i := range rows {
		r := &rows[i]
		ev := r.ev
		chainID[i], chain[i], protocol[i], market[i], pool[i] = ev.GetChainId(), ev.GetChain(), ev.GetProtocol(), ev.GetMarket(), ev.GetPool()
		blockTime[i], blockNumber[i], blockHash[i] = r.blockTime, ev.GetBlockNumber(), ev.GetBlockHash()
		txHash[i], txIndex[i], logIndex[i], borrower[i], liquidator[i] = ev.GetTxHash(), ev.GetTxIndex(), ev.GetLogIndex(), ev.GetBorrower(), ev.GetLiquidator()
		ca, da := ev.GetCollateralAsset(), ev.GetDebtAsset()
		collToken[i], collSymbol[i], collDecimals[i] = ca.GetAddress(), ca.GetSymbol(), ca.GetDecimals()
		debtToken[i], debtSymbol[i], debtDecimals[i] = da.GetAddress(), da.GetSymbol(), da.GetDecimals()
		collRaw[i], debtRaw[i], collAmount[i], debtAmount[i] = r.collateralRaw, r.debtRaw, r.collateralAmount, r.debtAmount
		if ev.GetReceiveAToken() {
			receive[i] = 1
		}
		collPrice.set(i, r.collateralPrice)
		collSource[i], collPriceBlock[i] = r.collateralSource, r.collateralPriceBlock
		debtPrice.set(i, r.debtPrice)
		debtSource[i], debtPriceBlock[i] = r.debtSource, r.debtBlock
		collUSD.vs[i], debtUSD.vs[i], feeRaw[i] = r.collateralUSD, r.debtUSD, r.feeRaw
		bonus.set(i, r.bonusUSD)
		feeUSD.set(i, r.feeUSD)
		eventID[i], revision[i], status[i], methodVersion[i] = ev.GetEventId(), ev.GetRevision(), r.status, ev.GetMethodVersion()
		if logTopics[i] = ev.GetLogTopics(); logTopics[i] == nil {
			logTopics[i] = []string{}
		}
		logData[i], observedAt[i] = ev.GetLogData(), r.observedAt
		kafkaTopic[i], partition[i], offset[i], ingested[i] = r.at.Topic, r.at.Partition, r.at.Offset, ingestedAt
		if r.tombstone {
			tombstone[i] = 1
		}
	}
	return []any{
		chainID, chain, protocol, market, pool, blockTime, blockNumber, blockHash,
		txHash, txIndex, logIndex, borrower, liquidator,
		collToken, collSymbol, collDecimals, debtToken, debtSymbol, debtDecimals,
		collRaw, debtRaw, collAmount, debtAmount, receive,
		collPrice, collSource, collPriceBlock,
		debtPrice, debtSource, debtPriceBlock,
		collUSD, debtUSD, bonus, feeRaw, feeUSD,
		eventID, revision, status, methodVersion, logTopics, logData, observedAt,
		kafkaTopic, partition, offset, ingested, tombstone,
	}
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
