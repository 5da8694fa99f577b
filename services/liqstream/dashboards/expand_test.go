package dashboards

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The expected strings are the plugin's own test vectors
// (grafana/clickhouse-datasource pkg/macros/macros_test.go).
func TestExpandMacrosMatchesThePlugin(t *testing.T) {
	r := TimeRange{From: mustTime(t, "2014-11-12T11:45:26.371Z"), To: mustTime(t, "2015-11-12T11:45:26.371Z")}
	tests := []struct{ name, in, want string }{
		{"timeFilter", "select * from foo where $__timeFilter(cast(sth as timestamp))",
			"select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)"},
		{"timeFilter with spaces", "where $__timeFilter(cast(sth as timestamp) )",
			"where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)"},
		{"timeFilter_ms", "where $__timeFilter_ms(t)",
			"where t >= fromUnixTimestamp64Milli(1415792726371) AND t <= fromUnixTimestamp64Milli(1447328726371)"},
		{"fromTime and toTime", "select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100",
			"select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100"},
		{"fromTime_ms", "where ( d >= $__fromTime_ms ) and ( d <= $__toTime_ms )",
			"where ( d >= fromUnixTimestamp64Milli(1415792726371) ) and ( d <= fromUnixTimestamp64Milli(1447328726371) )"},
		{"dateFilter", "where $__dateFilter(dateCol)", "where dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')"},
		{"dateTimeFilter", "where $__dateTimeFilter(dateCol, timeCol)",
			"where (dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')) AND (timeCol >= toDateTime(1415792726) AND timeCol <= toDateTime(1447328726))"},
		{"dt", "where $__dt(d, t)",
			"where (d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND (t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))"},
		{"timeInterval", "select $__timeInterval(col) from foo", "select toStartOfInterval(toDateTime(col), INTERVAL 20 second) from foo"},
		{"timeInterval_ms", "select $__timeInterval_ms(col)", "select toStartOfInterval(toDateTime64(col, 3), INTERVAL 20000 millisecond)"},
		{"interval_s", "INTERVAL $__interval_s second", "INTERVAL 20 second"},
		{"same macro twice", "$__timeFilter(a) OR $__timeFilter(a)",
			"a >= toDateTime(1415792726) AND a <= toDateTime(1447328726) OR a >= toDateTime(1415792726) AND a <= toDateTime(1447328726)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandMacros(tt.in, r, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ExpandMacros(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ExpandMacros("$__timeFilter(a, b)", r, time.Second); !errors.Is(err, ErrExpand) {
		t.Errorf("two arguments to $__timeFilter: err = %v, want ErrExpand", err)
	}
}

func TestInterpolateLikeGrafana(t *testing.T) {
	vars := []Variable{
		{Name: "chain", Multi: true, IncludeAll: true},
		{Name: "one", IncludeAll: true},
		{Name: "custom", Multi: true, IncludeAll: true, AllValue: "'__all'"},
	}
	opts := map[string][]string{"chain": {"base", "ethereum", "polygon"}, "one": {"x", "y"}, "custom": {"p", "q"}}
	scope := func(sel map[string]Selection) Scope {
		return Scope{Variables: vars, Options: opts, Selected: sel, Interval: time.Hour,
			Range: TimeRange{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}}
	}
	tests := []struct {
		name, in string
		sel      map[string]Selection
		want     string
	}{
		{"multi plain is the plugin's quoted list", "IN ($chain)", map[string]Selection{"chain": Pick("base", "polygon")}, "IN ('base','polygon')"},
		{"multi braces", "IN (${chain})", map[string]Selection{"chain": Pick("base")}, "IN ('base')"},
		{"multi singlequote", "IN (${chain:singlequote})", map[string]Selection{"chain": Pick("base", "o'k")}, `IN ('base','o\'k')`},
		{"all expands to every option", "IN (${chain:singlequote})", map[string]Selection{"chain": All}, "IN ('base','ethereum','polygon')"},
		{"all plain", "IN ($chain)", map[string]Selection{"chain": All}, "IN ('base','ethereum','polygon')"},
		{"csv", "[${chain:csv}]", map[string]Selection{"chain": Pick("a", "b")}, "[a,b]"},
		{"sqlstring", "${chain:sqlstring}", map[string]Selection{"chain": Pick("o'k")}, "'o''k'"},
		{"single value stays unquoted", "x = $one", map[string]Selection{"one": Pick("y")}, "x = y"},
		{"single value singlequote", "x = ${one:singlequote}", map[string]Selection{"one": Pick("y")}, "x = 'y'"},
		{"single value all", "x IN ($one)", map[string]Selection{"one": All}, "x IN ('x','y')"},
		{"custom all value is raw", "x IN (${custom:singlequote})", map[string]Selection{"custom": All}, "x IN ('__all')"},
		{"brackets syntax", "[[chain:csv]]", map[string]Selection{"chain": Pick("a", "b")}, "a,b"},
		{"macros untouched", "$__timeFilter(t) AND $__interval_s", map[string]Selection{}, "$__timeFilter(t) AND $__interval_s"},
		{"builtins", "$__from ${__to:date:seconds} $__interval", map[string]Selection{}, "1700000000000 1700003600 1h"},
		{"conditionalAll on All", "WHERE $__conditionalAll(c IN (${chain:singlequote}), $chain)", map[string]Selection{"chain": All}, "WHERE 1=1"},
		{"conditionalAll on values", "WHERE $__conditionalAll(c IN (${chain:singlequote}), $chain)",
			map[string]Selection{"chain": Pick("a", "b")}, "WHERE c IN ('a','b')"},
		{"two conditionalAll", "$__conditionalAll(f(a, b), $chain) AND $__conditionalAll(o = $one, $one)",
			map[string]Selection{"chain": All, "one": Pick("x")}, "1=1 AND o = x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Interpolate(tt.in, scope(tt.sel))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Interpolate(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	bad := []struct {
		name, in string
		sel      map[string]Selection
	}{
		{"unknown format", "${chain:glob}", map[string]Selection{"chain": All}},
		{"no selection", "$chain", map[string]Selection{}},
		{"several values in a single-value variable", "$one", map[string]Selection{"one": Pick("x", "y")}},
		{"conditionalAll with braces", "$__conditionalAll(a, ${chain})", map[string]Selection{"chain": All}},
		{"conditionalAll on unknown variable", "$__conditionalAll(a, $nope)", map[string]Selection{}},
	}
	for _, tt := range bad {
		t.Run("error/"+tt.name, func(t *testing.T) {
			if got, err := Interpolate(tt.in, scope(tt.sel)); !errors.Is(err, ErrExpand) {
				t.Errorf("Interpolate(%q) = %q, %v; want ErrExpand", tt.in, got, err)
			}
		})
	}
}

func TestExpandRejectsLeftovers(t *testing.T) {
	s := Scope{Range: TimeRange{From: time.Unix(0, 0), To: time.Unix(60, 0)}, Interval: time.Second}
	for _, in := range []string{"SELECT $nope", "SELECT ${nope}", "SELECT $__notAMacro(x)"} {
		if got, err := Expand(in, s); !errors.Is(err, ErrExpand) {
			t.Errorf("Expand(%q) = %q, %v; want ErrExpand", in, got, err)
		}
	}
}

func TestCheck(t *testing.T) {
	dec := map[string]bool{"collateral_usd": true, "debt_usd": true}
	tests := []struct {
		name, sql string
		want      string // substring of one problem; "" means no problem
	}{
		{"clean", "SELECT chain, sum(toFloat64(collateral_usd)) FROM t WHERE $__timeFilter(h) GROUP BY chain ORDER BY chain", ""},
		{"timeInterval", "SELECT $__timeInterval(t) AS time", "$__timeInterval"},
		{"timeFilter_ms", "WHERE $__timeFilter_ms(t)", "$__timeFilter_ms"},
		{"timeGroup", "SELECT $__timeGroup(t, '1h')", "$__timeGroup"},
		{"toStartOfInterval", "SELECT toStartOfInterval(t, INTERVAL 1 hour)", "toStartOfInterval"},
		{"DateTime64", "SELECT toDateTime64(t, 3)", "DateTime64"},
		{"group by decimal", "SELECT count() FROM t GROUP BY chain, collateral_usd ORDER BY 1", "GROUP BY collateral_usd"},
		{"group by decimal before having", "SELECT 1 FROM t GROUP BY debt_usd HAVING 1", "GROUP BY debt_usd"},
		{"group by inside subquery", "SELECT * FROM (SELECT 1 FROM t GROUP BY collateral_usd) x", "GROUP BY collateral_usd"},
		{"group by an expression of a decimal is fine", "SELECT 1 FROM t GROUP BY toString(collateral_usd)", ""},
		{"decimal sum", "SELECT sum(collateral_usd) FROM t", "sum(collateral_usd"},
		{"decimal sumIf", "SELECT sumIf(debt_usd, ok) FROM t", "sumIf(debt_usd"},
		{"window function", "SELECT rank() OVER (ORDER BY x)", "window functions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := Check(tt.sql, dec)
			if tt.want == "" {
				if len(probs) > 0 {
					t.Errorf("Check(%q) = %q, want none", tt.sql, probs)
				}
				return
			}
			if !strings.Contains(strings.Join(probs, "\n"), tt.want) {
				t.Errorf("Check(%q) = %q, want one mentioning %q", tt.sql, probs, tt.want)
			}
		})
	}
}
