package dashboards

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrExpand is wrapped by every error of Interpolate, ExpandMacros and Expand.
var ErrExpand = errors.New("expanding panel SQL")

// TimeRange is the dashboard's time picker range.
type TimeRange struct {
	From, To time.Time
}

// Selection is what a template variable holds: All, or chosen values.
type Selection struct {
	All    bool
	Values []string
}

// All selects the "All" option of a variable.
var All = Selection{All: true}

// Pick selects the given values.
func Pick(values ...string) Selection { return Selection{Values: values} }

// Scope is everything a panel's SQL is expanded with.
type Scope struct {
	Range TimeRange
	// Interval is Grafana's $__interval for the panel (max data points over
	// the range); $__interval_s and $__timeInterval use it.
	Interval time.Duration
	// Variables are the dashboard's template variables.
	Variables []Variable
	// Options are the values each variable's query returned, in order: what
	// "All" stands for when the variable has no custom allValue.
	Options map[string][]string
	// Selected is the current selection of each variable.
	Selected map[string]Selection
}

// Expand turns a panel's rawSql into the statement the plugin sends to
// ClickHouse: Interpolate (browser side), then ExpandMacros (plugin backend).
// Anything still looking like a variable or macro afterwards is an error.
func Expand(sql string, s Scope) (string, error) {
	out, err := Interpolate(sql, s)
	if err != nil {
		return "", err
	}
	if out, err = ExpandMacros(out, s.Range, s.Interval); err != nil {
		return "", err
	}
	if m := leftoverRe.FindString(out); m != "" {
		return "", fmt.Errorf("%w: %q is left after expansion: an unknown variable or macro", ErrExpand, m)
	}
	return out, nil
}

var leftoverRe = regexp.MustCompile(`\$\{?\w+|\[\[\w+`)

// ---------------------------------------------------------------------------
// Browser side: $__conditionalAll, then Grafana's template service.

// variableRe is Grafana's template variable syntax (public/app/features/
// variables/utils.ts, variableRegex): $var, [[var]], [[var:fmt]],
// ${var}, ${var.field}, ${var:fmt}.
var variableRe = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// allMarker is the value Grafana stores for the All option.
const allMarker = "$__all"

// Interpolate does what the plugin's frontend does to rawSql before sending
// it (grafana/clickhouse-datasource src/data/CHDatasource.ts,
// applyTemplateVariables): applyConditionalAll, then
// getTemplateSrv().replace(sql, scopedVars, this.format), whose format
// function renders a multi-value as 'a','b' and a single value unquoted. An
// explicit ${var:format} overrides that function, as in Grafana. Names that
// are not variables (e.g. the backend macros $__timeFilter) are left alone.
func Interpolate(sql string, s Scope) (string, error) {
	sql, err := conditionalAll(sql, s)
	if err != nil {
		return "", err
	}
	var firstErr error
	out := variableRe.ReplaceAllStringFunc(sql, func(m string) string {
		g := variableRe.FindStringSubmatch(m)
		name, format := g[1], ""
		switch {
		case g[2] != "":
			name, format = g[2], g[3]
		case g[4] != "":
			name, format = g[4], g[6]
			if g[5] != "" {
				firstErr = errors.Join(firstErr, fmt.Errorf("%w: %s: field paths are not supported", ErrExpand, m))
				return m
			}
		}
		v, err := s.value(name, format)
		if err != nil {
			firstErr = errors.Join(firstErr, err)
			return m
		}
		if v == nil {
			return m // not a variable: Grafana leaves it as written
		}
		return *v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// conditionalAll mirrors CHDatasource.applyConditionalAll: from the last
// $__conditionalAll(cond, $var) backwards, the macro becomes cond, or 1=1
// when the variable's current value is All (or empty).
func conditionalAll(sql string, s Scope) (string, error) {
	const macro = "$__conditionalAll("
	for i := strings.LastIndex(sql, macro); i != -1; i = strings.LastIndex(sql, macro) {
		params := macroArgs(sql[i+len(macro)-1:])
		if len(params) != 2 {
			return "", fmt.Errorf("%w: $__conditionalAll needs 2 arguments (condition, $variable), got %d", ErrExpand, len(params))
		}
		ref := strings.TrimSpace(params[1])
		if !strings.HasPrefix(ref, "$") || strings.HasPrefix(ref, "${") {
			return "", fmt.Errorf("%w: $__conditionalAll's second argument must be $name (the plugin strips one character), got %q", ErrExpand, ref)
		}
		name := ref[1:]
		if _, ok := s.variable(name); !ok {
			return "", fmt.Errorf("%w: $__conditionalAll refers to unknown variable %q", ErrExpand, name)
		}
		phrase := params[0]
		sel := s.Selected[name]
		if sel.All || len(sel.Values) == 0 {
			phrase = "1=1"
		}
		sql = strings.Replace(sql, macro+params[0]+","+params[1]+")", phrase, 1)
	}
	return sql, nil
}

// macroArgs mirrors CHDatasource.getMacroArgs: s starts at the macro's
// opening parenthesis; arguments are split on commas at nesting depth one.
func macroArgs(s string) []string {
	var args []string
	depth, last := 0, 1
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				args = append(args, s[last:i])
				last = i + 1
			}
		default:
			continue
		}
		if depth == 0 {
			return append(args, s[last:i])
		}
	}
	return nil
}

func (s Scope) variable(name string) (Variable, bool) {
	for _, v := range s.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// value renders variable name in format; nil means name is not a variable.
func (s Scope) value(name, format string) (*string, error) {
	if v, ok := s.builtin(name, format); ok {
		return &v, nil
	}
	vr, ok := s.variable(name)
	if !ok {
		return nil, nil
	}
	sel, ok := s.Selected[name]
	if !ok {
		return nil, fmt.Errorf("%w: variable %q has no selection in the test scope", ErrExpand, name)
	}
	var values []string
	switch {
	case sel.All && !vr.IncludeAll:
		return nil, fmt.Errorf("%w: variable %q is selected as All but has includeAll false", ErrExpand, name)
	case sel.All && vr.AllValue != "":
		// Grafana renders a custom all value as written, unformatted
		// (templateSrv.replace: "skip formatting of custom all values").
		if format != "text" && format != "percentencode" {
			out := vr.AllValue
			return &out, nil
		}
		values = []string{vr.AllValue}
	case sel.All:
		values = s.Options[name]
	default:
		values = sel.Values
		if len(values) > 1 && !vr.Multi {
			return nil, fmt.Errorf("%w: variable %q holds %d values but is not multi-value", ErrExpand, name, len(values))
		}
	}
	// A multi-value variable (or All) holds an array; a single-value one a string.
	isArray := vr.Multi || sel.All
	out, err := render(values, isArray, format)
	if err != nil {
		return nil, fmt.Errorf("%w: variable %q: %v", ErrExpand, name, err)
	}
	return &out, nil
}

// render formats a variable's value like Grafana's format registry
// (public/app/features/templating/formatRegistry.ts). With no explicit
// format the plugin's own format function applies.
func render(values []string, isArray bool, format string) (string, error) {
	each := func(f func(string) string, sep string) string {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = f(v)
		}
		return strings.Join(out, sep)
	}
	single := ""
	if len(values) > 0 {
		single = values[0]
	}
	switch format {
	case "":
		if isArray {
			return "'" + strings.Join(values, "','") + "'", nil
		}
		return single, nil
	case "singlequote":
		return each(func(v string) string { return "'" + strings.ReplaceAll(v, "'", `\'`) + "'" }, ","), nil
	case "doublequote":
		return each(func(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }, ","), nil
	case "sqlstring":
		return each(func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }, ","), nil
	case "csv", "raw", "text":
		return strings.Join(values, ","), nil
	case "pipe":
		return strings.Join(values, "|"), nil
	}
	return "", fmt.Errorf("format %q is not supported by the harness (use singlequote, doublequote, sqlstring, csv, raw, text or pipe)", format)
}

// builtin renders Grafana's global variables.
func (s Scope) builtin(name, format string) (string, bool) {
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	switch name {
	case "__from", "__to":
		t := s.Range.From
		if name == "__to" {
			t = s.Range.To
		}
		switch format {
		case "date:seconds":
			return strconv.FormatInt(t.Unix(), 10), true
		case "date", "date:iso":
			return t.UTC().Format("2006-01-02T15:04:05.000Z"), true
		}
		return ms(t), true
	case "__interval":
		return intervalText(s.Interval), true
	case "__interval_ms":
		return strconv.FormatInt(s.Interval.Milliseconds(), 10), true
	case "__range_s":
		return strconv.FormatInt(int64(s.Range.To.Sub(s.Range.From).Seconds()), 10), true
	}
	return "", false
}

// intervalText renders an interval the way Grafana writes $__interval
// (largest whole unit: 1d, 1h, 5m, 30s, 100ms).
func intervalText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// ---------------------------------------------------------------------------
// Plugin backend: SQL macros.

// macroFunc expands one macro from its arguments.
type macroFunc func(r TimeRange, interval time.Duration, args []string) (string, error)

func toDate(t time.Time) string     { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }
func toDateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func toDateTime64(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli())
}

func nargs(n int, f func(args []string) string) macroFunc {
	return func(_ TimeRange, _ time.Duration, args []string) (string, error) {
		if len(args) != n {
			return "", fmt.Errorf("expected %d argument(s), received %d", n, len(args))
		}
		return f(args), nil
	}
}

// Macros are the plugin backend's macros, expanded as in
// grafana/clickhouse-datasource pkg/macros/macros.go (the Macros map), plus
// the defaults grafana-plugin-sdk-go data/sqlutil/macros.go adds for names
// the plugin does not define (timeFrom, timeTo, timeGroup, table, column).
func macros(r TimeRange, interval time.Duration) map[string]macroFunc {
	sec := int(math.Max(interval.Seconds(), 1))
	msec := int(math.Max(float64(interval.Milliseconds()), 1))
	return map[string]macroFunc{
		"fromTime":    nargs(0, func([]string) string { return toDateTime(r.From) }),
		"toTime":      nargs(0, func([]string) string { return toDateTime(r.To) }),
		"fromTime_ms": nargs(0, func([]string) string { return toDateTime64(r.From) }),
		"toTime_ms":   nargs(0, func([]string) string { return toDateTime64(r.To) }),
		"timeFilter": nargs(1, func(a []string) string {
			return fmt.Sprintf("%s >= %s AND %s <= %s", a[0], toDateTime(r.From), a[0], toDateTime(r.To))
		}),
		"timeFilter_ms": nargs(1, func(a []string) string {
			return fmt.Sprintf("%s >= %s AND %s <= %s", a[0], toDateTime64(r.From), a[0], toDateTime64(r.To))
		}),
		"dateFilter": nargs(1, func(a []string) string {
			return fmt.Sprintf("%s >= %s AND %s <= %s", a[0], toDate(r.From), a[0], toDate(r.To))
		}),
		"dateTimeFilter": nargs(2, func(a []string) string { return dateTimeFilter(r, a) }),
		"dt":             nargs(2, func(a []string) string { return dateTimeFilter(r, a) }),
		"timeInterval": nargs(1, func(a []string) string {
			return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", a[0], sec)
		}),
		"timeInterval_ms": nargs(1, func(a []string) string {
			return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", a[0], msec)
		}),
		"interval_s": func(TimeRange, time.Duration, []string) (string, error) { return strconv.Itoa(sec), nil },
		// sqlutil defaults.
		"timeFrom": nargs(1, func(a []string) string {
			return fmt.Sprintf("%s >= '%s'", a[0], r.From.UTC().Format(time.RFC3339))
		}),
		"timeTo": nargs(1, func(a []string) string {
			return fmt.Sprintf("%s <= '%s'", a[0], r.To.UTC().Format(time.RFC3339))
		}),
		"timeGroup": nargs(2, func(a []string) string { return fmt.Sprintf("datepart(%s, %s)", a[1], a[0]) }),
		"table":     func(TimeRange, time.Duration, []string) (string, error) { return "", nil },
		"column":    func(TimeRange, time.Duration, []string) (string, error) { return "", nil },
	}
}

func dateTimeFilter(r TimeRange, a []string) string {
	return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
		a[0], toDate(r.From), a[0], toDate(r.To), a[1], toDateTime(r.From), a[1], toDateTime(r.To))
}

// ExpandMacros replaces the plugin backend's macros the way
// sqlutil.Interpolate does: each $__name is matched on a word boundary, its
// argument list is found by scanning for balanced parentheses from the match
// (a closing parenthesis seen first means "no arguments"), arguments are
// split on commas and trimmed, and every occurrence of the whole match is
// replaced. Like sqlutil's scanner, an argument-less macro followed later by
// an opening parenthesis swallows everything up to the matching closing one:
// write argument-less macros ($__fromTime) only where no "(" follows before a ")".
func ExpandMacros(sql string, r TimeRange, interval time.Duration) (string, error) {
	ms := macros(r, interval)
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names) // sqlutil iterates a map; results do not depend on order
	for _, name := range names {
		for _, m := range macroMatches(sql, name) {
			var args []string
			if m.hasArgs {
				for _, a := range strings.Split(m.args, ",") {
					args = append(args, strings.TrimSpace(a))
				}
			}
			res, err := ms[name](r, interval, args)
			if err != nil {
				return "", fmt.Errorf("%w: $__%s: %v", ErrExpand, name, err)
			}
			sql = strings.ReplaceAll(sql, m.text, res)
		}
	}
	return sql, nil
}

type macroMatch struct {
	text, args string
	hasArgs    bool
}

// macroMatches mirrors sqlutil.getMacroMatches.
func macroMatches(sql, name string) []macroMatch {
	re := regexp.MustCompile(`\$__` + regexp.QuoteMeta(name) + `\b`)
	var out []macroMatch
	for _, loc := range re.FindAllStringIndex(sql, -1) {
		rest := sql[loc[0]:]
		end, argStart, depth := 0, 0, 0
	scan:
		for i, c := range rest {
			if depth == 0 && end > 0 {
				break
			}
			switch c {
			case '(':
				depth++
				if argStart == 0 {
					argStart = i + 1
				}
			case ')':
				if depth == 0 {
					end = 0
					break scan
				}
				depth--
				end = i + 1
			}
		}
		if end == 0 {
			end = loc[1] - loc[0]
		}
		m := macroMatch{text: rest[:end]}
		if argStart > 0 && argStart <= end {
			m.args, m.hasArgs = rest[argStart:end-1], true
		}
		out = append(out, m)
	}
	return out
}
