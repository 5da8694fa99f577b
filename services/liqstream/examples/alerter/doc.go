// Package alerter is an example downstream consumer of the liquidations topic
// written with github.com/segmentio/kafka-go, a client other than the one
// liqstream itself uses, to show that the topic contract stands on its own.
//
// It reads liqstream.liquidations.v1 in a consumer group, decodes the records
// whose liqstream-schema header is liqstream.v1.LiquidationEvent (other schemas,
// such as liqstream.v1.DeficitEvent, are skipped), and POSTs a JSON Alert to a
// webhook when an event's collateral USD is at least the threshold, compared
// exactly on the contract's 8-decimal strings (never through floating point).
//
// Revisions: per event_id the alerter keeps the highest revision it has seen; a
// record at that revision or lower (a duplicate or a stale copy) is skipped, so
// a duplicate never alerts twice. The first live revision at or above the
// threshold sends kind "liquidation"; a later live revision of an alerted event
// still at or above the threshold sends "update"; a higher RETRACTED revision of
// an alerted event sends "retraction". A revision that drops below the threshold
// sends nothing (the earlier alert stands until a retraction).
//
// Delivery: records are handled one at a time, and a record's offset is
// committed only after the webhook accepted (2xx) every alert the record
// caused, so delivery to the webhook is at-least-once. Failed POSTs are retried
// with exponential backoff up to WebhookAttempts; when those are exhausted Run
// returns a *WebhookError without committing, and a restart redelivers the
// record. The revision state is kept in memory only: after a restart, an
// alert whose POST succeeded but whose offset commit did not is sent again,
// and a retraction of an event the previous process alerted on is sent when
// the retracted record is itself at or above the threshold (retractions keep
// the event's values). Receivers deduplicate on the Idempotency-Key header,
// "<kind>:<event_id>:<revision>". The state grows by one small entry per
// event id seen.
//
// The webhook URL is a secret.URL: logs and errors show only its scheme and
// host.
package alerter
