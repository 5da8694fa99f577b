// Package kafkaconn is how every liqstream Kafka client connects: the seed
// brokers, TLS (a CA file, an optional client certificate) and SASL (PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512) in one Conn that services embed inline in
// their "kafka" config section:
//
//	kafka:
//	  brokers: [kafka-1.example:9094]
//	  tls:
//	    enabled: true
//	    ca_file: /etc/liqstream/kafka-ca.pem
//	  sasl:
//	    mechanism: SCRAM-SHA-512
//	    username: liqstream
//	    password: ...   # or $KAFKA_SASL_PASSWORD / --kafka-sasl-password-file
//
// Opts turns a Conn into franz-go options (kgo.SeedBrokers, kgo.DialTLSConfig,
// kgo.SASL); TLSConfig and the SASL fields serve other clients (the alerter
// example builds a segmentio/kafka-go Dialer and Transport from them).
// Validate names the offending key. Explain turns a TLS or SASL failure into an
// error that says what to do.
//
// The password is a secret.String: it prints as <redacted> in logs, errors
// and dumped configs, and no error of this package contains it.
package kafkaconn
