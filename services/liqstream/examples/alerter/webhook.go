package alerter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Alert kinds.
const (
	// KindLiquidation is the first alert for an event at or above the threshold.
	KindLiquidation = "liquidation"
	// KindUpdate is a higher live revision of an event already alerted on,
	// still at or above the threshold; it supersedes the earlier alert.
	KindUpdate = "update"
	// KindRetraction says an alerted event was orphaned by a reorg.
	KindRetraction = "retraction"
)

// HeaderIdempotencyKey carries "<kind>:<event_id>:<revision>" on every POST,
// so a receiver can drop the copies at-least-once delivery may produce.
const HeaderIdempotencyKey = "Idempotency-Key"

// Alert is the JSON body POSTed to the webhook. USD values are the
// contract's exact 8-decimal strings.
type Alert struct {
	Kind          string `json:"kind"`
	EventID       string `json:"event_id"`
	Revision      uint64 `json:"revision"`
	ChainID       uint64 `json:"chain_id"`
	Chain         string `json:"chain"`
	Protocol      string `json:"protocol"`
	Market        string `json:"market"`
	BlockNumber   uint64 `json:"block_number"`
	BlockTime     string `json:"block_time,omitempty"`
	TxHash        string `json:"tx_hash"`
	Borrower      string `json:"borrower"`
	Liquidator    string `json:"liquidator"`
	Collateral    string `json:"collateral_symbol"`
	Debt          string `json:"debt_symbol"`
	CollateralUSD string `json:"collateral_usd"`
	DebtUSD       string `json:"debt_usd"`
	ThresholdUSD  string `json:"threshold_usd"`
	MethodVersion string `json:"method_version"`
}

// IdempotencyKey returns the value of HeaderIdempotencyKey for a.
func (a Alert) IdempotencyKey() string {
	return a.Kind + ":" + a.EventID + ":" + strconv.FormatUint(a.Revision, 10)
}

func newAlert(kind string, ev *liqstreamv1.LiquidationEvent, threshold *big.Int) Alert {
	a := Alert{
		Kind:          kind,
		EventID:       ev.GetEventId(),
		Revision:      ev.GetRevision(),
		ChainID:       ev.GetChainId(),
		Chain:         ev.GetChain(),
		Protocol:      ev.GetProtocol(),
		Market:        ev.GetMarket(),
		BlockNumber:   ev.GetBlockNumber(),
		TxHash:        ev.GetTxHash(),
		Borrower:      ev.GetBorrower(),
		Liquidator:    ev.GetLiquidator(),
		Collateral:    ev.GetCollateralAsset().GetSymbol(),
		Debt:          ev.GetDebtAsset().GetSymbol(),
		CollateralUSD: ev.GetCollateralUsd(),
		DebtUSD:       ev.GetDebtUsd(),
		ThresholdUSD:  usd.Format(threshold),
		MethodVersion: ev.GetMethodVersion(),
	}
	if ev.GetBlockTime() != nil {
		a.BlockTime = ev.GetBlockTime().AsTime().UTC().Format(time.RFC3339)
	}
	return a
}

// WebhookError says an alert was not accepted by the webhook.
type WebhookError struct {
	// Key is the alert's idempotency key.
	Key string
	// Attempts is how many POSTs were made.
	Attempts int
	// Status is the last HTTP status, 0 when no response arrived.
	Status int
	// Err is the last transport error or a description of the response.
	Err error
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("webhook did not accept alert %s after %d attempt(s) (last status %d): %v; check webhook_url and that the receiver is up",
		e.Key, e.Attempts, e.Status, e.Err)
}

func (e *WebhookError) Unwrap() error { return e.Err }

// ErrRejected is wrapped when the webhook answered with a status that
// retrying cannot fix (4xx other than 408 and 429).
var ErrRejected = errors.New("webhook rejected the alert")

// IsRetryable reports whether err is a webhook failure that a later attempt
// may fix: no response, a 5xx, 408 or 429.
func IsRetryable(err error) bool {
	var we *WebhookError
	if !errors.As(err, &we) {
		return false
	}
	return !errors.Is(we.Err, ErrRejected)
}

const maxBackoff = 30 * time.Second

// maxResponseBytes bounds what is read of a webhook's answer body.
const maxResponseBytes = 64 << 10

// post delivers al, retrying retryable failures with exponential backoff.
func (a *Alerter) post(ctx context.Context, al Alert) error {
	body, err := json.Marshal(al)
	if err != nil {
		return fmt.Errorf("encoding alert %s: %w", al.IdempotencyKey(), err)
	}
	wait := a.cfg.RetryBackoff
	werr := &WebhookError{Key: al.IdempotencyKey()}
	for attempt := 1; ; attempt++ {
		werr.Attempts = attempt
		werr.Status, werr.Err = a.postOnce(ctx, al, body)
		if werr.Err == nil {
			a.log.Info("alert sent", "kind", al.Kind, "event_id", al.EventID, "revision", al.Revision,
				"collateral_usd", al.CollateralUSD, "attempts", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sending alert %s: %w", werr.Key, ctx.Err())
		}
		if !IsRetryable(werr) || attempt >= a.cfg.WebhookAttempts {
			return werr
		}
		a.log.Warn("webhook attempt failed, retrying", "key", werr.Key, "attempt", attempt,
			"status", werr.Status, "err", werr.Err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sending alert %s: %w", werr.Key, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

// postOnce makes one POST and returns the status and nil when it was accepted.
// Transport errors are reported without the URL, which may hold a token.
func (a *Alerter) postOnce(ctx context.Context, al Alert, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: building request for %s", ErrRejected, a.cfg.WebhookURL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, al.IdempotencyKey())
	resp, err := a.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error prints the full URL: keep only the cause
		}
		return 0, fmt.Errorf("POST %s: %w", a.cfg.WebhookURL, err)
	}
	defer resp.Body.Close()
	// Only the status matters: drain a little so that the connection can be
	// reused, never more than maxResponseBytes (Close drops the rest).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return resp.StatusCode, fmt.Errorf("POST %s: status %s", a.cfg.WebhookURL, resp.Status)
	default:
		return resp.StatusCode, fmt.Errorf("%w: POST %s: status %s", ErrRejected, a.cfg.WebhookURL, resp.Status)
	}
}
