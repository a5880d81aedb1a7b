import Redis from 'ioredis';

/**
 * Connects to Redis (ioredis, reconnecting with backoff). Resolves once the first connection is ready. With
 * `keyPrefix` every key of every command (scripts' KEYS included) is prefixed with it (a replay's namespace).
 */
export async function connectRedis(url: string, name: string, keyPrefix?: string): Promise<Redis> {
  const r = new Redis(url, { connectionName: name, lazyConnect: true, maxRetriesPerRequest: null, ...(keyPrefix ? { keyPrefix } : {}) });
  await r.connect();
  return r;
}

export type { Redis };
