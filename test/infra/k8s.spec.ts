/**
 * The Kubernetes manifests of infra/k8s pass schema validation against the Kubernetes API's OpenAPI schemas of the npm
 * package kubernetes-models (its ajv-compiled validators: types, required fields, enums, formats; nothing downloaded),
 * run in a plain node process since the package is ESM only (Jest runs CommonJS); a manifest with a planted type error is caught, so the
 * check can fail. Beyond the schema: what the deployment relies on (privileged hostPID probe with the host paths of
 * uprobes, resource limits on every container, the entry points and the image of the Dockerfile, a config file the
 * services accept, the NATS values of a JetStream cluster). Not covered: unknown fields (kubernetes-models' schemas
 * allow them) and anything a real cluster or helm would check.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadAll } from 'js-yaml';
import { configProblems } from '@agentsight/jetstream';
import { optionByKey } from '@agentsight/contracts';

const ROOT = resolve(__dirname, '../..');
const K8S = join(ROOT, 'infra/k8s');
type Obj = Record<string, any>;

/** Every object of every manifest (nats-values.yaml is Helm values, not a manifest). */
function manifests(): Array<{ file: string; obj: Obj }> {
  return readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'nats-values.yaml').sort()
    .flatMap((file) => (loadAll(readFileSync(join(K8S, file), 'utf8')) as Obj[]).filter(Boolean).map((obj) => ({ file, obj })));
}

/** Validates objects with kubernetes-models in a node process; per object, the validation error text or null. */
function validate(objs: Obj[]): Array<string | null> {
  const script = `
    import { readFileSync } from 'node:fs';
    const objs = JSON.parse(readFileSync(0, 'utf8'));
    const out = [];
    for (const o of objs) {
      const group = o.apiVersion.includes('/') ? o.apiVersion : 'v1';
      const path = group === 'v1' ? 'kubernetes-models/v1/' + o.kind : 'kubernetes-models/' + group + '/' + o.kind;
      try {
        const M = (await import(path))[o.kind];
        new M(o).validate();
        out.push(null);
      } catch (e) { out.push(String(e && e.message || e)); }
    }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, input: JSON.stringify(objs), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`validator failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<string | null>;
}

const all = manifests();
const byKind = (kind: string, name: string) => all.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name)?.obj;
const podSpec = (o: Obj) => o.spec.template.spec;

describe('Kubernetes manifests (infra/k8s)', () => {
  test('every object passes the Kubernetes schema; a planted type error does not', () => {
    expect(all.map((m) => `${m.file}:${m.obj.kind}/${m.obj.metadata.name}`)).toEqual(expect.arrayContaining([
      'config.yaml:ConfigMap/agentsight-config', 'daemonset.yaml:DaemonSet/agentsight-node', 'serve.yaml:Deployment/agentsight-serve',
      'serve.yaml:Service/agentsight-serve', 'serve.yaml:PersistentVolumeClaim/agentsight-data', 'redis.yaml:Deployment/redis',
      'exporter.yaml:Deployment/agentsight-exporter', 'namespace.yaml:Namespace/agentsight', 'secret.example.yaml:Secret/agentsight-secrets',
    ]));
    const errors = validate(all.map((m) => m.obj));
    expect(all.map((m, i) => [m.file, m.obj.kind, errors[i]])).toEqual(all.map((m) => [m.file, m.obj.kind, null]));
    const broken = structuredClone(byKind('DaemonSet', 'agentsight-node')!);
    podSpec(broken).hostPID = 'yes';
    podSpec(broken).containers[0].resources.limits.cpu = { cores: 1 };
    const [err] = validate([broken]);
    expect(err).toMatch(/hostPID/);
  });

  test('the probe: privileged, host PID namespace, the host paths uprobes and tracepoints need', () => {
    const ds = byKind('DaemonSet', 'agentsight-node')!;
    const spec = podSpec(ds);
    expect(spec.hostPID).toBe(true);
    const probe = spec.containers.find((c: Obj) => c.name === 'probe');
    expect(probe.securityContext.privileged).toBe(true);
    const mounts = Object.fromEntries(probe.volumeMounts.map((v: Obj) => [v.mountPath, spec.volumes.find((x: Obj) => x.name === v.name).hostPath?.path]));
    expect(mounts).toMatchObject({ '/sys/kernel/btf': '/sys/kernel/btf', '/sys/kernel/tracing': '/sys/kernel/tracing', '/sys/kernel/debug': '/sys/kernel/debug', '/sys/fs/bpf': '/sys/fs/bpf', '/host/proc': '/proc', '/host': '/' });
    // the probe's flags exist (its README's table) and its partitions match the config file's
    const readme = readFileSync(join(ROOT, 'services/probe-producer/README.md'), 'utf8');
    for (const a of probe.args.filter((x: string) => x.startsWith('--'))) expect({ a, documented: readme.includes(`| \`${a}`) }).toEqual({ a, documented: true });
    const config = JSON.parse(byKind('ConfigMap', 'agentsight-config')!.data['config.json']);
    expect(probe.args[probe.args.indexOf('--partitions') + 1]).toBe(String(config.partitions));
    // the stages are not privileged
    for (const c of spec.containers.filter((x: Obj) => x.name !== 'probe')) expect({ c: c.name, nonRoot: c.securityContext?.runAsNonRoot, privileged: c.securityContext?.privileged ?? false }).toEqual({ c: c.name, nonRoot: true, privileged: false });
  });

  test('every container has resource limits, runs the image of the Dockerfile and an entry point of this repository', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^WORKDIR \/opt\/agentsight$/m);
    const workloads = all.filter((m) => ['DaemonSet', 'Deployment'].includes(m.obj.kind));
    expect(workloads.length).toBeGreaterThanOrEqual(4);
    for (const { obj } of workloads) {
      for (const c of podSpec(obj).containers as Obj[]) {
        const id = `${obj.metadata.name}/${c.name}`;
        expect({ id, cpu: Boolean(c.resources?.limits?.cpu), memory: Boolean(c.resources?.limits?.memory) }).toEqual({ id, cpu: true, memory: true });
        if (!c.image.startsWith('agentsight:')) continue;
        const entry = c.command[0] === 'node' ? c.command[1] : c.command[0];
        const src = entry.replace('/opt/agentsight/', '').replace(/\/dist\/main\.js$/, '/src/main.ts').replace(/build\/agentsight-probe$/, 'Makefile');
        expect({ id, entry, exists: existsSync(join(ROOT, src)) }).toEqual({ id, entry, exists: true });
      }
    }
  });

  test('the config file of the ConfigMap is one the services accept, with no secret key (its mount is 0644)', () => {
    const doc = JSON.parse(byKind('ConfigMap', 'agentsight-config')!.data['config.json']) as Record<string, unknown>;
    expect(configProblems(doc)).toEqual([]);
    expect(Object.keys(doc).filter((k) => optionByKey(k)?.secret)).toEqual([]);
    // every Secret key a pod reads is in the example Secret
    const secret = byKind('Secret', 'agentsight-secrets')!.stringData as Record<string, string>;
    const refs = JSON.stringify(all.map((m) => m.obj)).match(/"secretKeyRef":\{"name":"agentsight-secrets","key":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(Object.keys(secret)).toContain(/"key":"([^"]+)"/.exec(r)![1]);
  });

  test('NATS Helm values: a 3-server JetStream cluster on volumes, with agentsight\'s two users; streams R3 on it', () => {
    const v = (loadAll(readFileSync(join(K8S, 'nats-values.yaml'), 'utf8')) as Obj[])[0];
    expect(v.config.cluster).toEqual({ enabled: true, replicas: 3 });
    // every stream and the object store replicated on all of the cluster's servers (the config file's stream_replicas)
    const config = JSON.parse(byKind('ConfigMap', 'agentsight-config')!.data['config.json']);
    expect(config.stream_replicas).toBe(v.config.cluster.replicas);
    expect(v.config.jetstream).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } } });
    expect(v.config.merge.authorization.users.map((u: Obj) => u.user)).toEqual(['agentsight', 'agentsight-probe']);
    const probe = v.config.merge.authorization.users[1];
    expect(probe.permissions.publish.allow).toEqual(['agentsight.raw.>', '$JS.API.STREAM.CREATE.AGENTSIGHT_RAW']);
  });
});
