// TLS failures told apart from network faults, and mapped to exit 2 with the setting to change,
// for each service's way of reporting them (bare Node errors from node-postgres, kafkajs' wrapped
// and retried ones, kafkajs' SASL refusal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../src/errors.ts';
import { kafkajsSecurity, kafkaSecurityError } from '../../src/kafka/security.ts';
import { pgTlsError } from '../../src/pg/tls.ts';
import { tlsFailure } from '../../src/tls-errors.ts';

const nodeError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

test('tlsFailure: certificate errors by code, anywhere in the cause chain; network errors are not TLS failures', () => {
  assert.deepEqual(tlsFailure(nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')), { kind: 'untrusted', detail: 'self-signed certificate in certificate chain' });
  assert.equal(tlsFailure(nodeError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"))?.kind, 'hostname');
  assert.equal(tlsFailure(nodeError('CERT_HAS_EXPIRED', 'certificate has expired'))?.kind, 'expired');
  assert.equal(tlsFailure(new Error('outer', { cause: new Error('middle', { cause: nodeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate') }) }))?.kind, 'untrusted');
  assert.equal(tlsFailure(new Error('The server does not support SSL connections'))?.kind, 'not-tls');
  assert.equal(tlsFailure(nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')), null);
  assert.equal(tlsFailure(nodeError('ECONNRESET', 'socket hang up')), null);
  assert.equal(tlsFailure(null), null);
});

test('pgTlsError: exit 2, names PostgreSQL and the root-certificate setting; kafkajs errors are left to Kafka', () => {
  const error = pgTlsError(nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'));
  assert.equal(error?.exitCode, ExitCode.config);
  assert.equal(error?.code, 'WALCAST_TLS');
  assert.match(error!.message, /^TLS to PostgreSQL failed: the PostgreSQL server presented a certificate walcast does not trust \(self-signed certificate in certificate chain\): set WALCAST_PG_SSL_ROOT_CERT/);
  assert.match(pgTlsError(new Error('The server does not support SSL connections'))!.message, /WALCAST_PG_SSL_MODE/);
  const kafkaWrapped = Object.assign(nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'Connection error: self-signed certificate in certificate chain'), { name: 'KafkaJSConnectionError' });
  assert.equal(pgTlsError(kafkaWrapped), null);
  assert.equal(pgTlsError(nodeError('ECONNREFUSED', 'refused')), null);
});

test('kafkaSecurityError: SASL refusal and certificate failures after kafkajs\' retries; closed connections stay retriable', () => {
  const sasl = kafkaSecurityError(Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), { name: 'KafkaJSSASLAuthenticationError' }));
  assert.equal(sasl?.code, 'WALCAST_KAFKA_AUTH');
  assert.equal(sasl?.exitCode, ExitCode.config);
  assert.match(sasl!.message, /WALCAST_KAFKA_SASL_USERNAME, WALCAST_KAFKA_SASL_PASSWORD and WALCAST_KAFKA_SASL_MECHANISM/);
  const connection = Object.assign(nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'Connection error: self-signed certificate in certificate chain'), { name: 'KafkaJSConnectionError', broker: '127.0.0.1:9093' });
  const retried = Object.assign(new Error('Connection error: self-signed certificate in certificate chain', { cause: connection }), { name: 'KafkaJSNumberOfRetriesExceeded' });
  const tls = kafkaSecurityError(retried);
  assert.equal(tls?.code, 'WALCAST_TLS');
  assert.match(tls!.message, /^TLS to Kafka broker 127\.0\.0\.1:9093 failed: .* set WALCAST_KAFKA_SSL_CA_LOCATION/);
  const required = Object.assign(nodeError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required'), { name: 'KafkaJSConnectionError', broker: 'b:1' });
  assert.match(kafkaSecurityError(required)!.message, /WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION and WALCAST_KAFKA_SSL_KEY_LOCATION/);
  assert.equal(kafkaSecurityError(Object.assign(new Error('Closed connection'), { name: 'KafkaJSConnectionClosedError' })), null);
  assert.equal(kafkaSecurityError(nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'bare, not from kafkajs')), null);
});

test('kafkajsSecurity: kafkajs\' ssl and sasl options (mechanism in its lower case)', () => {
  assert.deepEqual(kafkajsSecurity({ protocol: 'PLAINTEXT', tls: null, sasl: null }), {});
  assert.deepEqual(kafkajsSecurity({ protocol: 'SASL_SSL', tls: { ca: ['PEM'] }, sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' } }), {
    ssl: { ca: ['PEM'] },
    sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
  });
  assert.deepEqual(kafkajsSecurity({ protocol: 'SASL_PLAINTEXT', tls: null, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } }), { sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
  assert.deepEqual(kafkajsSecurity({ protocol: 'SSL', tls: {}, sasl: null }), { ssl: {} });
});
