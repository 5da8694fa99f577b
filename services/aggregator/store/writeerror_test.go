package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestWriteErrorHints: each kind of ClickHouse refusal says what to fix.
func TestWriteErrorHints(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&clickhouse.Exception{Code: 60, Message: "Table x doesn't exist"}, "run `aggregator migrate`"},
		{&clickhouse.Exception{Code: 193, Message: "Wrong password for user default"}, "check clickhouse.username and clickhouse.password"},
		{&clickhouse.Exception{Code: 516, Message: "default: Authentication failed"}, "check clickhouse.username and clickhouse.password"},
		{&clickhouse.Exception{Code: 164, Message: "Cannot execute query in readonly mode"}, "may not write here"},
		{errors.New("connection reset by peer"), "reachable and healthy"},
	} {
		msg := (&WriteError{Step: "insert raw rows", Rows: 3, Attempts: 1, Err: tc.err}).Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("WriteError(%v) = %q, want it to contain %q", tc.err, msg, tc.want)
		}
	}
}
