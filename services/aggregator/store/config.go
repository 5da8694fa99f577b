package store

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("invalid clickhouse config")

// Config says how to reach ClickHouse. Its YAML keys sit under "clickhouse"
// in the aggregator's config file.
type Config struct {
	// Addr lists native-protocol addresses, host:port (default 127.0.0.1:9000).
	Addr []string `yaml:"addr"`
	// Database holds the liqstream tables (default "liqstream").
	Database string `yaml:"database"`
	// Username (default "default").
	Username string `yaml:"username"`
	// Password, redacted when printed or logged.
	Password secret.String `yaml:"password"`
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// QueryTimeout bounds each attempt of each statement (default 60s).
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxAttempts is how often a transient failure is tried (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoff is the first wait between attempts; it doubles up to 5s
	// (default 200ms).
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:         []string{"127.0.0.1:9000"},
		Database:     "liqstream",
		Username:     "default",
		DialTimeout:  5 * time.Second,
		QueryTimeout: 60 * time.Second,
		MaxAttempts:  5,
		RetryBackoff: 200 * time.Millisecond,
	}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports the first invalid setting, naming its YAML key.
func (c Config) Validate() error {
	switch {
	case len(c.Addr) == 0:
		return fmt.Errorf("%w: clickhouse.addr is empty: give at least one host:port of the native protocol", ErrConfig)
	case !identRe.MatchString(c.Database):
		return fmt.Errorf("%w: clickhouse.database %q: use letters, digits and underscores", ErrConfig, c.Database)
	case c.DialTimeout <= 0:
		return fmt.Errorf("%w: clickhouse.dial_timeout must be positive", ErrConfig)
	case c.QueryTimeout <= 0:
		return fmt.Errorf("%w: clickhouse.query_timeout must be positive", ErrConfig)
	case c.MaxAttempts < 1:
		return fmt.Errorf("%w: clickhouse.max_attempts must be at least 1", ErrConfig)
	case c.RetryBackoff < 0:
		return fmt.Errorf("%w: clickhouse.retry_backoff must not be negative", ErrConfig)
	}
	for _, a := range c.Addr {
		if a == "" {
			return fmt.Errorf("%w: clickhouse.addr holds an empty address", ErrConfig)
		}
	}
	return nil
}
