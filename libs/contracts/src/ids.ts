import { createHash } from 'node:crypto';

/**
 * Deterministic id of a derived event: hex sha256 of its parts joined with U+001F, first 32 hex digits (128 bits).
 * Redelivery or replay of the same inputs gives the same id, which is then the `Nats-Msg-Id` and the storage key.
 */
export function deriveId(...parts: Array<string | number | bigint>): string {
  return createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex').slice(0, 32);
}
