// Package dashboards is the test harness of liqstream's Grafana dashboards
// (deploy/grafana): it loads the dashboard JSON files and expands a panel's
// SQL exactly as Grafana and the grafana-clickhouse-datasource plugin would
// before it reaches ClickHouse, so that a test can run every panel against a
// real server and check the shape of what comes back.
//
// Expansion happens in the plugin's order:
//
//  1. In the browser, the plugin resolves $__conditionalAll(cond, $var) (to
//     cond, or 1=1 when the variable holds All), then Grafana's template
//     service replaces $var, ${var} and ${var:format} (Interpolate).
//  2. In the plugin's backend, the SQL macros ($__timeFilter(col),
//     $__dateFilter(col), $__fromTime, ...) are replaced with ClickHouse
//     expressions built from the panel's time range (ExpandMacros).
//
// Expand runs both. Check lists the macros and SQL constructs that the
// ClickHouse 18.16 server liqstream supports cannot run (the _ms macros and
// $__timeInterval produce DateTime64 or toStartOfInterval; $__timeGroup,
// $__timeFrom and $__timeTo come from the SDK's generic defaults and are not
// ClickHouse SQL), and Decimal pitfalls that crash 18.16 (GROUP BY a Decimal
// column, a Decimal aggregate that may see zero rows).
//
// The package is used by its own tests (dashboards_test.go runs every panel
// of every dashboard against ClickHouse loaded with synthetic events); it has
// no runtime role in the pipeline.
package dashboards
