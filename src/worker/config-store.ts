/**
 * Connector configs kept in Kafka, as distributed Connect keeps them: a compacted topic
 * (WALCAST_CONFIG_STORAGE_TOPIC), one record per connector keyed `connector-<name>` holding its
 * config and target state, a tombstone when it is deleted, and `restart-connector-<name>` for a
 * restart asked of whichever worker runs it. Every worker follows the topic (worker.ts): a
 * restarted worker resumes every connector in it, and a change made through any worker reaches all.
 *
 * Value: {"v":1,"config":{...},"encrypted":{key: ciphertext},"targetState":"STARTED"}. With
 * WALCAST_CONFIG_ENCRYPTION_KEY, literal secrets move from `config` to `encrypted`; without it they
 * stay in `config` and each write warns, naming them.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { TargetState } from '../connector.ts';
import type { Logger } from '../log.ts';
import type { TopicManager } from '../kafka/topics.ts';
import type { ConnectorConfigMap } from './config-providers.ts';
import { isLiteralSecret, type ConfigCipher } from './config-secrets.ts';

export interface StoredConnector {
  config: ConnectorConfigMap;
  targetState: TargetState;
}

const KEY_PREFIX = 'connector-';
const RESTART_PREFIX = 'restart-connector-';

export interface RestartRequest {
  includeTasks: boolean;
  onlyFailed: boolean;
}

/** A record of the config topic, as the worker acts on it. */
export type ConfigRecord = { kind: 'connector'; name: string; stored: StoredConnector | null } | { kind: 'restart'; name: string; request: RestartRequest };
const VERSION = 1;

export class ConfigRecordError extends Error {
  readonly code = 'WALCAST_CONFIG_RECORD';
}

export interface ConfigStoreOptions {
  kafka: Kafka;
  topics: TopicManager;
  topic: string;
  /** null: literal secrets are stored in the clear (with a warning). */
  cipher: ConfigCipher | null;
  log: Logger;
}

export class ConfigStore {
  private readonly options: ConfigStoreOptions;
  private readonly producer: Producer;
  private connected = false;

  constructor(options: ConfigStoreOptions) {
    this.options = options;
    this.producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  }

  /** Creates the topic when missing. */
  async ensureTopic(): Promise<void> {
    await this.options.topics.ensureCompacted(this.options.topic);
  }

  /** A record of the topic (from the follower); null for keys walcast does not write. */
  decodeRecord(key: string | null, value: Buffer | null): ConfigRecord | null {
    if (key?.startsWith(KEY_PREFIX)) return { kind: 'connector', name: key.slice(KEY_PREFIX.length), stored: value === null ? null : this.decode(key, value) };
    if (key?.startsWith(RESTART_PREFIX) && value !== null) {
      const json = JSON.parse(value.toString('utf8')) as Partial<RestartRequest>;
      return { kind: 'restart', name: key.slice(RESTART_PREFIX.length), request: { includeTasks: json.includeTasks === true, onlyFailed: json.onlyFailed === true } };
    }
    return null;
  }

  /** Writes a connector's config and target state; resolves with the record's offset. */
  async put(name: string, stored: StoredConnector): Promise<bigint> {
    return this.write(KEY_PREFIX + name, Buffer.from(JSON.stringify(this.encode(name, stored))));
  }

  async remove(name: string): Promise<bigint> {
    return this.write(KEY_PREFIX + name, null);
  }

  /** Asks the worker running the connector to restart it. */
  async requestRestart(name: string, request: RestartRequest): Promise<bigint> {
    return this.write(RESTART_PREFIX + name, Buffer.from(JSON.stringify(request)));
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = false;
  }

  private async write(key: string, value: Buffer | null): Promise<bigint> {
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
    const [written] = await this.producer.send({ topic: this.options.topic, acks: -1, messages: [{ key, value }] });
    return BigInt(written!.baseOffset!);
  }

  private encode(name: string, stored: StoredConnector): { v: number; config: ConnectorConfigMap; encrypted: ConnectorConfigMap; targetState: TargetState } {
    const config: ConnectorConfigMap = {};
    const encrypted: ConnectorConfigMap = {};
    const clear: string[] = [];
    for (const [key, value] of Object.entries(stored.config)) {
      if (!isLiteralSecret(key, value)) config[key] = value;
      else if (this.options.cipher) encrypted[key] = this.options.cipher.encrypt(value);
      else {
        config[key] = value;
        clear.push(key);
      }
    }
    if (clear.length > 0) {
      this.options.log.warn(
        { connector: name, settings: clear, topic: this.options.topic },
        `connector ${name}: ${clear.join(', ')} stored in the clear in ${this.options.topic}: set WALCAST_CONFIG_ENCRYPTION_KEY, or use a reference (\${env:VAR}, \${file:/path:key})`,
      );
    }
    return { v: VERSION, config, encrypted, targetState: stored.targetState };
  }

  private decode(key: string, value: Buffer): StoredConnector {
    let json: { v?: unknown; config?: ConnectorConfigMap; encrypted?: ConnectorConfigMap; targetState?: TargetState };
    try {
      json = JSON.parse(value.toString('utf8')) as typeof json;
    } catch (error) {
      throw new ConfigRecordError(`record ${key} in ${this.options.topic} is not JSON`, { cause: error });
    }
    if (json.v !== VERSION || typeof json.config !== 'object' || json.config === null) {
      throw new ConfigRecordError(`record ${key} in ${this.options.topic} has an unknown format (version ${JSON.stringify(json.v)}; newer than this walcast?)`);
    }
    const config = { ...json.config };
    const encrypted = Object.entries(json.encrypted ?? {});
    if (encrypted.length > 0 && !this.options.cipher) {
      throw new ConfigRecordError(`record ${key} in ${this.options.topic} holds encrypted secrets (${encrypted.map(([k]) => k).join(', ')}): set WALCAST_CONFIG_ENCRYPTION_KEY to the key they were written with`);
    }
    for (const [setting, ciphertext] of encrypted) config[setting] = this.options.cipher!.decrypt(ciphertext);
    return { config, targetState: json.targetState ?? 'STARTED' };
  }
}
