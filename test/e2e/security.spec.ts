/**
 * Local data exposure is closed: agentsight's own NATS and Redis (started by the CLI's real set-up path,
 * libs/jetstream/src/brokers.ts, here with a private config dir and free ports) and the read API demand
 * credentials, which live root-only; the data dir, NATS store and logs are 0700/0600. An unprivileged local user
 * (`nobody`, via setpriv) is refused everywhere; root with the secrets gets in (so each refusal is a real check).
 * The probe's NATS user may publish raw records but cannot read anything back.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  apiToken, connectNats, connectRedis, NATS_PROBE_USER, natsConnectOptions, pipelineConfig, probeNatsEnv, readSecrets, secretsFile,
} from '@agentsight/jetstream';
import { ensureInfra } from '../../services/api/src/cli/pipeline';
import { freePort, Stages } from './harness';

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const isRoot = process.getuid?.() === 0;
const d = isRoot ? describe : describe.skip;

/** Runs `script` (plain node, no modules) as nobody; it prints one JSON line. */
function asNobody(script: string): Record<string, unknown> {
  const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`as nobody: ${r.status} ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function mode(p: string): string {
  return (statSync(p).mode & 0o777).toString(8);
}

d('local data exposure (as nobody)', () => {
  let base: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let stages: Stages;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'agentsight-security-'));
    chmodSync(base, 0o755); // a world-readable parent: only our own modes can keep nobody out
    dataDir = join(base, 'data');
    mkdirSync(join(dataDir, 'logs'), { recursive: true, mode: 0o755 });
    chmodSync(dataDir, 0o755); // an existing, too open data dir: the run tightens it
    const { NATS_URL: _n, REDIS_URL: _r, NATS_USER: _u, NATS_PASSWORD: _p, NATS_CREDS: _c, AGENTSIGHT_UI_TOKEN: _t, ...rest } = process.env;
    env = {
      ...rest, AGENTSIGHT_CONFIG_DIR: join(base, 'etc', 'agentsight'), AGENTSIGHT_DATA_DIR: dataDir, AGENTSIGHT_HOST: 'security-host',
      AGENTSIGHT_NATS_PORT: String(await freePort()), AGENTSIGHT_REDIS_PORT: String(await freePort()), AGENTSIGHT_API_PORT: String(await freePort()),
    };
    await ensureInfra(env); // what exec/trace/record/serve do first
    stages = new Stages(env);
    await stages.start('api');
  }, 120_000);

  afterAll(async () => {
    await stages?.stopAll();
    for (const f of ['nats.pid', 'redis.pid']) {
      try {
        process.kill(Number(readFileSync(join(dataDir, 'logs', f), 'utf8').trim()), 'SIGTERM');
      } catch {
        /* not running */
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    rmSync(base, { recursive: true, force: true });
  });

  test('secrets, data dir, NATS store and logs are root-only (0700 dirs, 0600 files)', () => {
    expect(mode(join(base, 'etc', 'agentsight'))).toBe('700');
    expect(mode(secretsFile(env))).toBe('600');
    expect(mode(join(base, 'etc', 'agentsight', 'nats.conf'))).toBe('600');
    expect(mode(join(base, 'etc', 'agentsight', 'redis.conf'))).toBe('600');
    expect(mode(dataDir)).toBe('700');
    expect(mode(join(dataDir, 'logs'))).toBe('700');
    expect(mode(join(dataDir, 'nats'))).toBe('700');
    for (const f of ['nats.log', 'redis.log', 'api.log']) expect([f, mode(join(dataDir, 'logs', f))]).toEqual([f, '600']);
  });

  test('root with the secrets gets in: NATS (JetStream), Redis, the API with its token', async () => {
    const cfg = pipelineConfig(env);
    const nats = await connectNats(cfg.nats, 'security-root');
    expect((await nats.jsm.streams.info('AGENTSIGHT_RAW')).config.name).toBe('AGENTSIGHT_RAW');
    await nats.nc.close();
    const redis = await connectRedis(cfg.redisUrl, 'security-root');
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();
    const r = await fetch(`http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/api/calls`, { headers: { authorization: `Bearer ${apiToken(env)}` } });
    expect(r.status).toBe(200);
    // Without the token, loopback or not, root too: 401.
    expect((await fetch(`http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/api/calls`)).status).toBe(401);
  });

  test('nobody cannot connect to NATS, Redis or the API, nor read the secrets, the data dir or the logs', () => {
    const token = readSecrets(env)!.api_token;
    const got = asNobody(`
      const net = require('net'), fs = require('fs');
      const line = (port, send) => new Promise((res) => {
        const c = net.connect(port, '127.0.0.1'); let b = '';
        c.on('connect', () => send && c.write(send));
        c.on('data', (d) => { b += d; if (/-ERR|NOAUTH|\\+PONG|\\+OK/.test(b)) { c.destroy(); res(b); } });
        c.on('error', (e) => res('error ' + e.code)); setTimeout(() => { c.destroy(); res(b); }, 5000);
      });
      const err = (f) => { try { f(); return 'read'; } catch (e) { return e.code; } };
      (async () => {
        const out = {};
        out.nats = await line(${env.AGENTSIGHT_NATS_PORT}, 'CONNECT {"verbose":false,"pedantic":false}\\r\\nSUB agentsight.> 1\\r\\nPING\\r\\n');
        out.redis = await line(${env.AGENTSIGHT_REDIS_PORT}, 'PING\\r\\n');
        out.redisKeys = await line(${env.AGENTSIGHT_REDIS_PORT}, 'KEYS *\\r\\n');
        out.api = (await fetch('http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/api/calls')).status;
        out.apiHealth = (await fetch('http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/api/health')).status;
        out.apiWrongToken = (await fetch('http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/api/calls', { headers: { authorization: 'Bearer x${token.slice(1)}' } })).status;
        out.secrets = err(() => fs.readFileSync(${JSON.stringify(secretsFile(env))}));
        out.natsConf = err(() => fs.readFileSync(${JSON.stringify(join(base, 'etc', 'agentsight', 'nats.conf'))}));
        out.dataDir = err(() => fs.readdirSync(${JSON.stringify(dataDir)}));
        out.log = err(() => fs.readFileSync(${JSON.stringify(join(dataDir, 'logs', 'api.log'))}));
        out.store = err(() => fs.readdirSync(${JSON.stringify(join(dataDir, 'nats'))}));
        console.log(JSON.stringify(out));
      })();
    `);
    expect(String(got.nats)).toMatch(/-ERR 'Authorization Violation'/);
    expect(String(got.redis)).toMatch(/^-NOAUTH/);
    expect(String(got.redisKeys)).toMatch(/^-NOAUTH/);
    expect(got).toEqual(expect.objectContaining({ api: 401, apiHealth: 401, apiWrongToken: 401, secrets: 'EACCES', natsConf: 'EACCES', dataDir: 'EACCES', log: 'EACCES', store: 'EACCES' }));
  });

  test("the probe's NATS user publishes raw records but cannot read any subject back", async () => {
    const penv = probeNatsEnv(env);
    expect(penv.NATS_USER).toBe(NATS_PROBE_USER);
    const nc = await connect({ servers: penv.NATS_URL, user: penv.NATS_USER, pass: penv.NATS_PASSWORD });
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    try {
      const ack = await jetstream(nc).publish('agentsight.raw.proc.security-host', new Uint8Array([1]), { msgID: `security-${Date.now()}` });
      expect(ack.stream).toBe('AGENTSIGHT_RAW');
      // Subscriptions to derived and raw subjects are refused by the server.
      for (const subject of ['agentsight.llm.>', 'agentsight.raw.>', 'agentsight.exchange.>']) {
        const sub = nc.subscribe(subject);
        const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r('still open'), 5000))]);
        expect([subject, String(closed)]).toEqual([subject, expect.stringMatching(/Permissions Violation for Subscription/)]);
      }
      // The JetStream API (consumers, stream reads) is refused too: no reply comes back.
      const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
      await expect(jsm.consumers.add('AGENTSIGHT_LLM', { durable_name: 'steal', ack_policy: 'explicit' as never })).rejects.toThrow();
      await expect(jsm.streams.getMessage('AGENTSIGHT_RAW', { seq: 1 })).rejects.toThrow();
    } finally {
      await nc.close();
    }
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER/);
    // Derived records the pipeline fetches never come through an inbox the probe may subscribe to.
    expect(natsConnectOptions(pipelineConfig(env).nats).inboxPrefix).toBe('_INBOX_agentsight');
  });

  test('an open server on agentsight\'s port is refused loudly, never used', async () => {
    const { spawn } = await import('node:child_process');
    const port = await freePort();
    const open = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      const { connect: tcp } = await import('node:net');
      for (let up = false; !up; ) {
        up = await new Promise<boolean>((r) => { const c = tcp(port, '127.0.0.1', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); });
        if (!up) await new Promise((r) => setTimeout(r, 50));
      }
      await expect(ensureInfra({ ...env, AGENTSIGHT_REDIS_PORT: String(port) })).rejects.toThrow(/answers without a password/);
    } finally {
      open.kill('SIGTERM');
    }
  });
});
