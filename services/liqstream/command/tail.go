package command

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"

	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/liqstream/liqstream/services/liqstream/tail"
)

// Tail prints events from the liquidations topic as JSON lines.
func Tail(ctx context.Context, env Env, args []string) int {
	fs := flags(env, "tail")
	brokers := fs.String("brokers", envOr(env, "KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers (default $KAFKA_BROKERS)")
	topic := fs.String("topic", topics.Liquidations, "topic to read")
	chain := fs.String("chain", "", "only this chain (slug or id)")
	protocol := fs.String("protocol", "", "only this protocol, e.g. aave-v3")
	minUSD := fs.String("min-usd", "", "only events whose collateral USD is at least this, e.g. 100000")
	fromBeginning := fs.Bool("from-beginning", false, "start at the earliest record instead of the end of the topic")
	max := fs.Int("max", 0, "stop after this many events (0: run until interrupted)")
	kflags := kafkaconn.AddFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg := tail.Config{Conn: kafkaconn.Conn{Brokers: splitList(*brokers)}, Topic: *topic, Protocol: *protocol, FromBeginning: *fromBeginning, Max: *max}
	if err := kflags.Apply(&cfg.Conn, env.Getenv); err != nil {
		fmt.Fprintf(env.Stderr, "liqstream tail: %v\n", err)
		return 2
	}
	if *chain != "" {
		c, err := chains.Default().Lookup(*chain)
		if err != nil {
			fmt.Fprintf(env.Stderr, "liqstream tail: --chain: %v\n", err)
			return 2
		}
		cfg.ChainID = c.ID
	}
	if *minUSD != "" {
		v, err := usd.Parse(*minUSD)
		if err != nil || v.Sign() < 0 {
			fmt.Fprintf(env.Stderr, "liqstream tail: --min-usd %q: want a non-negative decimal number of dollars\n", *minUSD)
			return 2
		}
		cfg.MinUSD = new(big.Int).Set(v)
	}
	if err := tail.Run(ctx, cfg, env.Stdout, logger(env.Stderr, slog.LevelWarn)); err != nil {
		fmt.Fprintf(env.Stderr, "liqstream tail: %v\n", err)
		return 1
	}
	return 0
}
