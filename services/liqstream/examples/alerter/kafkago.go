package alerter

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
)

// DialTimeout bounds one connection attempt (TCP, TLS and SASL) of Dialer
// and Transport.
const DialTimeout = 10 * time.Second

// SASLMechanism returns kafka-go's mechanism for c's SASL settings, nil when
// SASL is off.
func SASLMechanism(c kafkaconn.Conn) (sasl.Mechanism, error) {
	user, pass := c.SASL.Username, c.SASL.Password.Reveal()
	switch c.MechanismName() {
	case "":
		return nil, nil
	case kafkaconn.MechanismPlain:
		return plain.Mechanism{Username: user, Password: pass}, nil
	case kafkaconn.MechanismSCRAMSHA256:
		return scramMechanism(scram.SHA256, user, pass)
	case kafkaconn.MechanismSCRAMSHA512:
		return scramMechanism(scram.SHA512, user, pass)
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q is not supported by this client", c.SASL.Mechanism)
}

func scramMechanism(algo scram.Algorithm, user, pass string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(algo, user, pass)
	if err != nil {
		// The only failure is a username or password SASLprep rejects;
		// neither is echoed.
		return nil, fmt.Errorf("kafka.sasl: the username or password has characters SCRAM cannot use: %w", err)
	}
	return m, nil
}

// Dialer returns a segmentio/kafka-go Dialer (for kafka.Reader and
// kafka.DialContext) that connects as c says: TLS with c's CA and client
// certificate, SASL with c's mechanism. c is validated first (keys named
// top-level, as in the alerter's config).
func Dialer(c kafkaconn.Conn) (*kafka.Dialer, error) {
	tlsCfg, mech, err := security(c)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: DialTimeout, DualStack: true, TLS: tlsCfg, SASLMechanism: mech}, nil
}

// Transport returns a segmentio/kafka-go Transport (for kafka.Writer and
// kafka.Client) that connects as c says, like Dialer.
func Transport(c kafkaconn.Conn) (*kafka.Transport, error) {
	tlsCfg, mech, err := security(c)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{DialTimeout: DialTimeout, TLS: tlsCfg, SASL: mech}, nil
}

// security validates c and returns its TLS config and SASL mechanism (nil
// when off) for kafka-go.
func security(c kafkaconn.Conn) (*tls.Config, sasl.Mechanism, error) {
	if err := c.Validate(""); err != nil {
		return nil, nil, err
	}
	tlsCfg, err := c.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	mech, err := SASLMechanism(c)
	if err != nil {
		return nil, nil, err
	}
	return tlsCfg, mech, nil
}

// CheckConn connects to c's brokers with dialer, one after the other, until
// one accepts the connection (TLS handshake and SASL authentication
// included). The error of the last one is explained (kafkaconn.Conn.Explain).
func CheckConn(ctx context.Context, c kafkaconn.Conn, dialer *kafka.Dialer) error {
	var last error
	for _, b := range c.Brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			return conn.Close()
		}
		last = err
	}
	return fmt.Errorf("connecting to Kafka: %w", c.Explain(last))
}
