import { hash } from 'node:crypto';

/**
 * Deterministic id of a derived event: hex sha256 of its parts joined with U+001F, first 32 hex digits (128 bits).
 * Redelivery or replay of the same inputs gives the same id, which is then the `Nats-Msg-Id` and the storage key.
 */
export function deriveId(...parts: Array<string | number | bigint>): string {
  // One-shot `crypto.hash` (node >= 20.12): the same digest as a `createHash` object, without one per id (the parser
  // derives one per HTTP event).
  return hash('sha256', parts.map(String).join('\u001f'), 'hex').slice(0, 32);
}

/**
 * `Nats-Msg-Id` of one version of a versioned derived record (tool uses and their audit, GenAI events):
 * `<id>:v<version>:<first 8 hex of deriveId(JSON of content)>` (bigints as decimal text), so a corrected
 * re-publication of the same version is not dropped by JetStream's duplicate window while a redelivery is.
 */
export function versionedMsgId(id: string, version: number, content: unknown): string {
  const text = JSON.stringify(content, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  return `${id}:v${version}:${deriveId(text).slice(0, 8)}`;
}
