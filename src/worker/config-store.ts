/**
 * Connector configs kept in Kafka, as distributed Connect keeps them: a compacted topic
 * (WALCAST_CONFIG_STORAGE_TOPIC), one record per connector keyed `connector-<name>` holding its
 * config and target state, a tombstone when it is deleted. A worker reads it whole at start and
 * resumes every connector in it.
 *
 * Value: {"v":1,"config":{...},"encrypted":{key: ciphertext},"targetState":"STARTED"}. With
 * WALCAST_CONFIG_ENCRYPTION_KEY, literal secrets move from `config` to `encrypted`; without it they
 * stay in `config` and each write warns, naming them.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { TargetState } from '../connector.ts';
import type { Logger } from '../log.ts';
import { readCompacted } from '../kafka/compacted-topic.ts';
import type { TopicManager } from '../kafka/topics.ts';
import type { ConnectorConfigMap } from './config-providers.ts';
import { isLiteralSecret, type ConfigCipher } from './config-secrets.ts';

export interface StoredConnector {
  config: ConnectorConfigMap;
  targetState: TargetState;
}

const KEY_PREFIX = 'connector-';
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

  /** Creates the topic when missing and reads every connector in it. */
  async load(): Promise<Map<string, StoredConnector>> {
    await this.options.topics.ensureCompacted(this.options.topic);
    const { latest } = await readCompacted(this.options.kafka, this.options.topic, 'config reader');
    const out = new Map<string, StoredConnector>();
    for (const [key, record] of latest) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      out.set(key.slice(KEY_PREFIX.length), this.decode(key, record.value));
    }
    return out;
  }

  async put(name: string, stored: StoredConnector): Promise<void> {
    await this.write(name, Buffer.from(JSON.stringify(this.encode(name, stored))));
  }

  async remove(name: string): Promise<void> {
    await this.write(name, null);
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = false;
  }

  private async write(name: string, value: Buffer | null): Promise<void> {
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
    await this.producer.send({ topic: this.options.topic, acks: -1, messages: [{ key: KEY_PREFIX + name, value }] });
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
