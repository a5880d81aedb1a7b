import Redis from 'ioredis';

/** Connects to Redis (ioredis, reconnecting with backoff). Resolves once the first connection is ready. */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const r = new Redis(url, { connectionName: name, lazyConnect: true, maxRetriesPerRequest: null });
  await r.connect();
  return r;
}

export type { Redis };
