// Package telemetry sets up a service's OpenTelemetry metrics, exported in
// Prometheus text format on an HTTP endpoint (/metrics). Each service builds one
// Telemetry in main and passes its Meter to the stages; nothing is global.
package telemetry
