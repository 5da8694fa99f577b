// Package telemetry sets up a service's OpenTelemetry metrics, exported in
// Prometheus text format on an HTTP endpoint (/metrics). Each service builds one
// Telemetry in main and passes its Meter to the stages; nothing is global.
//
// Serve also answers /healthz (200 "ok" while the process serves) and
// /readyz: 200 "ready", or 503 "not ready: <reason>" from the service's
// Readiness check (WithReadiness; health.go), bounded by ReadyTimeout. The
// reason is one line that names what is wrong and which setting bounds it.
//
// Tracing (tracing.go) is OpenTelemetry tracing with W3C trace context,
// carried across Kafka in record headers (InjectRecord, ExtractRecord). It is
// off by default and costs nothing then (a no-op provider; hot paths check
// Recording). The standard environment turns it on:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318   OTLP over HTTP (protobuf)
//	OTEL_EXPORTER_OTLP_PROTOCOL=grpc                     OTLP over gRPC (port 4317)
//	OTEL_TRACES_EXPORTER=console                         JSON spans on standard error
//	OTEL_TRACES_EXPORTER=none, OTEL_SDK_DISABLED=true    off
//
// Sampling, batching and limits follow the SDK's own variables
// (OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SPAN_LINK_COUNT_LIMIT). The one
// exception to "nothing is global": an enabled pipeline is installed as the
// process default, which stages built without an explicit provider use.
package telemetry
