/** Scripted mock LLM provider: see ./server.ts. */
export * from './server';
