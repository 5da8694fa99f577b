package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Config selects what to print.
type Config struct {
	// Conn holds the brokers and the TLS and SASL settings.
	kafkaconn.Conn
	Topic string
	// ChainID keeps only events of this chain; 0 keeps all.
	ChainID uint64
	// Protocol keeps only events of this protocol ("aave-v3"); empty keeps all.
	Protocol string
	// MinUSD keeps only events whose collateral USD is at least this (1e-8
	// USD); nil keeps all.
	MinUSD *big.Int
	// FromBeginning starts at the earliest offset instead of the end.
	FromBeginning bool
	// Max stops after printing this many events; 0 runs until cancelled.
	Max int
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("invalid tail config")

var marshal = protojson.MarshalOptions{UseProtoNames: true}

// Run prints matching events to out until ctx is done or Max is reached.
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("%w: no brokers: give --brokers host:port", ErrConfig)
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Liquidations
	}
	reset := kgo.NewOffset().AtEnd()
	if cfg.FromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	cl, err := cfg.Conn.NewClient(kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(reset), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer cl.Close()
	// The consumer retries a refused password or an untrusted certificate
	// silently, forever: check the connection first.
	if err := cfg.Check(ctx, cl); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connecting to Kafka: %w", err)
	}
	printed := 0
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if ce := cfg.Explain(err); ce != err {
				ferr = fmt.Errorf("fetching %s: %w", t, ce)
				return
			}
			ferr = fmt.Errorf("fetching %s partition %d: %w (check --brokers and that the topic exists)", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			ev, err := decode(r)
			if err != nil {
				log.Warn("skipping record", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			if !cfg.matches(ev) {
				continue
			}
			b, err := marshal.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encoding event %s as JSON: %w", ev.GetEventId(), err)
			}
			if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			if printed++; cfg.Max > 0 && printed >= cfg.Max {
				return nil
			}
		}
	}
}

func decode(r *kgo.Record) (*liqstreamv1.LiquidationEvent, error) {
	for _, h := range r.Headers {
		if h.Key == topics.HeaderSchema && string(h.Value) != topics.SchemaLiquidationEvent {
			return nil, fmt.Errorf("record schema %q is not %s", h.Value, topics.SchemaLiquidationEvent)
		}
	}
	var ev liqstreamv1.LiquidationEvent
	if err := proto.Unmarshal(r.Value, &ev); err != nil {
		return nil, fmt.Errorf("undecodable LiquidationEvent: %w", err)
	}
	return &ev, nil
}

func (c Config) matches(ev *liqstreamv1.LiquidationEvent) bool {
	if c.ChainID != 0 && ev.GetChainId() != c.ChainID {
		return false
	}
	if c.Protocol != "" && !strings.EqualFold(ev.GetProtocol(), c.Protocol) {
		return false
	}
	if c.MinUSD != nil {
		v, err := usd.Parse(ev.GetCollateralUsd())
		if err != nil || v.Cmp(c.MinUSD) < 0 {
			return false
		}
	}
	return true
}
