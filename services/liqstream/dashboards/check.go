package dashboards

import (
	"fmt"
	"regexp"
	"strings"
)

// ForbiddenMacros are plugin macros the dashboards must not use, with why:
// ClickHouse 18.16 has no DateTime64, fromUnixTimestamp64Milli or
// toStartOfInterval, and the SDK's generic defaults are not ClickHouse SQL.
var ForbiddenMacros = map[string]string{
	"fromTime_ms":     "expands to fromUnixTimestamp64Milli (DateTime64), absent from ClickHouse 18.16",
	"toTime_ms":       "expands to fromUnixTimestamp64Milli (DateTime64), absent from ClickHouse 18.16",
	"timeFilter_ms":   "expands to fromUnixTimestamp64Milli (DateTime64), absent from ClickHouse 18.16",
	"timeInterval":    "expands to toStartOfInterval(..., INTERVAL n second), absent from ClickHouse 18.16",
	"timeInterval_ms": "expands to toStartOfInterval(toDateTime64(...)), absent from ClickHouse 18.16",
	"timeGroup":       "the SDK's generic default expands to datepart(), not ClickHouse SQL",
	"timeFrom":        "the SDK's generic default compares with an RFC 3339 string ClickHouse 18.16 cannot parse",
	"timeTo":          "the SDK's generic default compares with an RFC 3339 string ClickHouse 18.16 cannot parse",
	"table":           "expands to the query builder's table, empty for raw SQL",
	"column":          "expands to the query builder's column, empty for raw SQL",
}

// forbiddenSQL are SQL constructs ClickHouse 18.16 lacks.
var forbiddenSQL = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(?i)\btoStartOfInterval\s*\(`), "toStartOfInterval does not exist in ClickHouse 18.16 (use toStartOfHour, toStartOfDay, toDate)"},
	{regexp.MustCompile(`(?i)\bDateTime64\b|\btoDateTime64\b|\bfromUnixTimestamp64\w*`), "DateTime64 does not exist in ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bover\s*\(`), "window functions do not exist in ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bLowCardinality\b|\bMap\s*\(|\bInt256\b`), "type absent from ClickHouse 18.16"},
}

var (
	groupByRe = regexp.MustCompile(`(?is)\bGROUP\s+BY\b`)
	// Stops of a GROUP BY list at depth 0.
	groupByEndRe = regexp.MustCompile(`(?i)^\s*(HAVING|ORDER\s+BY|LIMIT|WITH\s+TOTALS|SETTINGS|UNION|FORMAT)\b`)
	identRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// An aggregate applied directly to a column: sum(x), maxIf(x, ...).
	aggColRe = regexp.MustCompile(`(?i)\b(sum|max|min|avg|any|anyLast|argMax|argMin|sumIf|maxIf|minIf|avgIf)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*[,)]`)
)

// Check returns the problems of a panel's raw SQL (before expansion) that
// would make ClickHouse 18.16 reject it or crash: forbidden macros and
// functions, GROUP BY on a Decimal column (segfaults 18.16) and a Decimal
// aggregated directly (sum/max/... of a Decimal over zero rows hangs or
// crashes 18.16; aggregate toFloat64(col) instead). decimalColumns are the
// names of the Decimal columns of the schema.
func Check(sql string, decimalColumns map[string]bool) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\$__(\w+)`).FindAllStringSubmatch(sql, -1) {
		if why, ok := ForbiddenMacros[m[1]]; ok {
			out = append(out, fmt.Sprintf("macro $__%s: %s", m[1], why))
		}
	}
	for _, f := range forbiddenSQL {
		if m := f.re.FindString(sql); m != "" {
			out = append(out, fmt.Sprintf("%q: %s", m, f.why))
		}
	}
	for _, expr := range groupByExprs(sql) {
		if identRe.MatchString(expr) && decimalColumns[expr] {
			out = append(out, fmt.Sprintf("GROUP BY %s: grouping by a Decimal column crashes ClickHouse 18.16", expr))
		}
	}
	for _, m := range aggColRe.FindAllStringSubmatch(sql, -1) {
		if decimalColumns[m[2]] {
			out = append(out, fmt.Sprintf("%s(%s ...): a Decimal aggregate over zero rows hangs or crashes ClickHouse 18.16; aggregate toFloat64(%s)", m[1], m[2], m[2]))
		}
	}
	return out
}

// groupByExprs returns the expressions of every GROUP BY list in sql.
func groupByExprs(sql string) []string {
	var out []string
	for _, loc := range groupByRe.FindAllStringIndex(sql, -1) {
		rest := sql[loc[1]:]
		depth, start := 0, 0
		for i := 0; i <= len(rest); i++ {
			if i == len(rest) {
				out = append(out, strings.TrimSpace(rest[start:]))
				break
			}
			c := rest[i]
			if depth == 0 && (c == ')' || groupByEndRe.MatchString(rest[i:]) && (i == 0 || !isIdent(rest[i-1]))) {
				out = append(out, strings.TrimSpace(rest[start:i]))
				break
			}
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			case ',':
				if depth == 0 {
					out = append(out, strings.TrimSpace(rest[start:i]))
					start = i + 1
				}
			}
		}
	}
	return out
}

func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
