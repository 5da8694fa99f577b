package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Readiness reports whether a service is ready: nil when it is, otherwise an
// error whose text says why not (it is sent in the /readyz body, so it must
// not hold secrets). It is called once per /readyz request with a context
// bounded by ReadyTimeout.
type Readiness func(ctx context.Context) error

// ReadyTimeout bounds one readiness check; a check still running then
// answers 503 with the timeout as its reason.
const ReadyTimeout = 3 * time.Second

// ServeOption configures Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	ready Readiness
}

// WithReadiness makes /readyz answer from check. Without it /readyz answers
// 200 while the process serves.
func WithReadiness(check Readiness) ServeOption {
	return func(o *serveOptions) { o.ready = check }
}

// HealthHandler answers /healthz: 200 "ok" while the process serves HTTP.
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = fmt.Fprintln(w, "ok")
	})
}

// ReadyHandler answers /readyz from check: 200 "ready", or 503 "not ready: "
// followed by the reason. A nil check is always ready.
func ReadyHandler(check Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var err error
		if check != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			err = runCheck(ctx, check)
			cancel()
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %s\n", oneLine(err.Error()))
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
}

// runCheck runs check, turning a panic or an overrun of ctx into a reason.
func runCheck(ctx context.Context, check Readiness) (err error) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("readiness check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("readiness check did not answer within %s: %w", ReadyTimeout, ctx.Err())
	}
}

// AllReady combines checks: ready when every one is; otherwise the reasons
// of the failing ones, in order, joined by "; ".
func AllReady(checks ...Readiness) Readiness {
	return func(ctx context.Context) error {
		var errs []error
		for _, c := range checks {
			if c == nil {
				continue
			}
			if err := c(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		switch len(errs) {
		case 0:
			return nil
		case 1:
			return errs[0]
		}
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return errors.New(strings.Join(msgs, "; "))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
