package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConnError is a TLS or SASL failure of a client of a Conn, with what to do
// about it. It wraps the client's error; its text never holds the password.
type ConnError struct {
	// What happened, naming the brokers (and the user, for SASL).
	What string
	// Todo says what to change.
	Todo string
	// Permanent is true when retrying cannot help (refused credentials, an
	// untrusted certificate, TLS against plaintext...); false when the broker
	// only closed the connection, which a broker restarting does too.
	Permanent bool
	Err       error
}

func (e *ConnError) Error() string { return fmt.Sprintf("%s: %v (%s)", e.What, e.Err, e.Todo) }

// Unwrap returns the client's error.
func (e *ConnError) Unwrap() error { return e.Err }

// Explain returns err as a *ConnError when it is a TLS or SASL failure of a
// client of c (franz-go, or segmentio/kafka-go through TLSConfig and the SASL
// fields): a refused password, a mechanism the listener does not enable, a
// broker certificate this client cannot verify, TLS against a plaintext
// listener or plaintext against a TLS one, or a connection the broker closed at once (the client's TLS or
// SASL settings do not match the listener). Other errors come back unchanged;
// nil stays nil.
func (c Conn) Explain(err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		return err
	}
	brokers := strings.Join(c.Brokers, ",")
	mech := c.MechanismName()
	msg := strings.ToLower(err.Error())
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
	)
	explained := func(what, todo string) error { return &ConnError{What: what, Todo: todo, Permanent: true, Err: err} }
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed) || strings.Contains(msg, "sasl authentication failed"):
		if mech == "" {
			mech = "SASL"
		}
		return explained(
			fmt.Sprintf("Kafka at %s refused the %s credentials of user %q", brokers, mech, c.SASL.Username),
			fmt.Sprintf("check kafka.sasl.username and kafka.sasl.password (or $%s / --%s; the password is not shown), "+
				"and that the user has %s credentials on the cluster", EnvSASLPassword, FlagSASLPasswordFile, mech))
	case errors.Is(err, kerr.UnsupportedSaslMechanism) || strings.Contains(msg, "unsupported sasl mechanism"):
		return explained(
			fmt.Sprintf("Kafka at %s does not enable SASL mechanism %s on this listener", brokers, mech),
			"set kafka.sasl.mechanism to one the listener enables (its sasl.enabled.mechanisms)")
	case errors.As(err, &unknownCA) || strings.Contains(msg, "certificate signed by unknown authority"):
		return explained(
			fmt.Sprintf("the TLS certificate of Kafka at %s is not signed by a CA this client trusts", brokers),
			"set kafka.tls.ca_file (--kafka-tls-ca-file) to the PEM file of the CA that signed the brokers' certificates")
	case errors.As(err, &hostname) || strings.Contains(msg, "certificate is valid for"):
		return explained(
			fmt.Sprintf("the TLS certificate of Kafka at %s is not valid for the name dialed", brokers),
			"connect by a name the certificate holds, or set kafka.tls.server_name to one")
	case errors.As(err, &invalid) || strings.Contains(msg, "certificate has expired"):
		return explained(
			fmt.Sprintf("the TLS certificate of Kafka at %s is invalid (expired, or not valid for a server)", brokers),
			"renew the brokers' certificate; check the clocks")
	case errors.As(err, &notTLS) || strings.Contains(msg, "does not look like a tls handshake"):
		return explained(
			fmt.Sprintf("Kafka at %s does not speak TLS on this port", brokers),
			"use the brokers' TLS listener, or set kafka.tls.enabled false for a plaintext one")
	case strings.Contains(msg, "plaintext connection speaking to a tls endpoint"):
		return explained(
			fmt.Sprintf("Kafka at %s expects TLS on this port and this client does not use it", brokers),
			"set kafka.tls.enabled: true (--kafka-tls) and kafka.tls.ca_file if the CA is not a system one, or use the brokers' plaintext listener")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "connection reset by peer"):
		return &ConnError{Err: err,
			What: fmt.Sprintf("Kafka at %s closed the connection (this client: TLS %s, SASL %s)", brokers, onOff(c.TLS.Enabled), orNone(mech)),
			Todo: "make kafka.tls and kafka.sasl match the broker listener's security protocol (SASL_SSL needs both, SSL only TLS, SASL_PLAINTEXT only SASL)"}
	}
	return err
}

// IsPermanent reports whether err holds a *ConnError that retrying cannot
// fix: the client's TLS or SASL settings must change first.
func IsPermanent(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce) && ce.Permanent
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orNone(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

// Check asks the brokers for metadata through cl, a client made from c (its
// first request: connection, TLS handshake and SASL authentication), and
// returns the explained error, if any. Consumers that would otherwise retry a
// refused password silently call it at startup.
func (c Conn) Check(ctx context.Context, cl *kgo.Client) error {
	return c.Explain(cl.Ping(ctx))
}
