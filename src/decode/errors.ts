import { ExitCode, WalcastError } from '../errors.ts';

/** Longest slice of an offending value quoted in an error message: enough to recognise it in a
 * log without copying a whole document (or a whole row's worth of personal data) into it. */
const MAX_QUOTED = 64;

function quote(text: string): string {
  return text.length <= MAX_QUOTED
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, MAX_QUOTED))}… (${text.length} chars)`;
}

/**
 * pgoutput sent a value walcast cannot parse as its declared type. Never expected from a healthy
 * server with the session settings walcast asks for (DateStyle=ISO, IntervalStyle=postgres); when
 * it happens, stopping is the only way not to publish a wrong value.
 */
export class ValueDecodeError extends WalcastError {
  /** PostgreSQL type name, e.g. `timestamptz` or `_int4`. */
  readonly typeName: string;
  /** The offending text, truncated. */
  readonly text: string;

  constructor(typeName: string, text: string, reason: string, code = 'WALCAST_VALUE_DECODE') {
    super(code, `cannot decode PostgreSQL ${typeName} value ${quote(text)}: ${reason}`, ExitCode.failure);
    this.name = 'ValueDecodeError';
    this.typeName = typeName;
    this.text = text.length <= MAX_QUOTED ? text : text.slice(0, MAX_QUOTED);
  }
}

/**
 * A well-formed value that the column's Avro schema cannot hold without loss (NaN in a
 * numeric(p,s) column, a timestamp past the int64 microsecond range, a 2-D array in a column
 * declared with one dimension). The message names the setting that changes the representation
 * where there is one.
 */
export class ValueUnrepresentableError extends ValueDecodeError {
  constructor(typeName: string, text: string, reason: string) {
    super(typeName, text, reason, 'WALCAST_VALUE_UNREPRESENTABLE');
    this.name = 'ValueUnrepresentableError';
  }
}
