// Package usd computes and formats exact USD values. A value is an integer count
// of 1e-8 USD (8 decimals, the unit of Aave V3 oracles and of ClickHouse's
// Decimal(38,8) columns). Values are computed with integer math and truncated
// toward zero once per event; they are never converted through floating point.
package usd
