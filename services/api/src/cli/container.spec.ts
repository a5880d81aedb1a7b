/**
 * `docker://` resolution against a simulated container: a real mount namespace (the binary exists only inside it,
 * bind-mounted over /mnt) and a real cgroup laid out as Docker does (`docker/<id>` in cgroup v1, `docker-<id>.scope`
 * in v2). Needs root (unshare, mount, cgroups); as everywhere else, CI runs as root.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupContainerId, ContainerError, dockerRef, processBinaries, resolveContainer } from './container';
import { definedFunctions, tlsFamilies } from './elf';

const ID = 'a9b8c7d6e5f4' + '0123456789abcdef'.repeat(3) + '0123';

/** A writable cgroup directory for the container id, in whichever hierarchy this machine has. */
function makeCgroup(): string {
  const v2 = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((d) => existsSync(join(d, 'cgroup.procs')) && !existsSync(join(d, 'tasks')));
  const dir = v2 ? join(v2, `docker-${ID}.scope`) : join('/sys/fs/cgroup/pids', 'docker', ID);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('docker:// targets', () => {
  let work: string;
  let cgroup: string;
  let child: ChildProcess;
  let pid: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agentsight-ctr-'));
    mkdirSync(join(work, 'app'));
    copyFileSync(process.execPath, join(work, 'app', 'agent-node'));
    execFileSync('chmod', ['+x', join(work, 'app', 'agent-node')]);
    mkdirSync(join(work, 'docker/containers', ID), { recursive: true });
    writeFileSync(join(work, 'docker/containers', ID, 'config.v2.json'), JSON.stringify({ ID, Name: '/test-agent' }));
    cgroup = makeCgroup();
    // The "container": joins the cgroup, gets its own mount namespace where /mnt holds the binary, runs it.
    child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      `echo $$ > ${cgroup}/cgroup.procs && mount --bind ${join(work, 'app')} /mnt && exec /mnt/agent-node -e "console.log('up'); setTimeout(() => {}, 60000)"`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout!.once('data', () => res());
      child.once('exit', (c) => rej(new Error(`container process exited with ${c}`)));
    });
    pid = child.pid!;
  }, 30_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (cgroup && Date.now() < deadline) {
      try {
        rmdirSync(cgroup);
        break;
      } catch {
        execFileSync('sleep', ['0.05']);
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  test('the binary exists only inside the container', () => {
    expect(existsSync('/mnt/agent-node')).toBe(false);
    expect(existsSync(`/proc/${pid}/root/mnt/agent-node`)).toBe(true);
  });

  test('resolves by full id and by id prefix to the process and its TLS binary via /proc/<pid>/root', () => {
    for (const ref of [ID, ID.slice(0, 12)]) {
      const c = resolveContainer(ref, { dataRoot: join(work, 'docker'), env: { PATH: '/nonexistent' } });
      expect(c.pids).toEqual([pid]);
      expect(c.pid).toBe(pid);
      expect(c.binaries).toEqual([`/proc/${pid}/root/mnt/agent-node`]);
      expect(c.families).toEqual(['OpenSSL']);
    }
  });

  test('resolves a name through Docker state (config.v2.json)', () => {
    const c = resolveContainer('test-agent', { dataRoot: join(work, 'docker'), env: { PATH: '/nonexistent' } });
    expect(c.id).toBe(ID);
    expect(c.pid).toBe(pid);
  });

  test('an unknown name, or an id with no process, is a clear error', () => {
    expect(() => resolveContainer('no-such-container', { dataRoot: join(work, 'docker'), env: { PATH: '/nonexistent' } })).toThrow(ContainerError);
    expect(() => resolveContainer('0'.repeat(64), { dataRoot: join(work, 'docker'), env: { PATH: '/nonexistent' } })).toThrow(/no running process/);
  });

  test('processBinaries gives host paths for a process in another mount namespace', () => {
    expect(processBinaries(pid)).toEqual([`/proc/${pid}/root/mnt/agent-node`]);
  });

  test('cgroup layouts of Docker and containerd name the id', () => {
    expect(cgroupContainerId(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))).toBe(ID);
    expect(cgroupContainerId(`0::/system.slice/docker-${ID}.scope\n`)).toBe(ID);
    expect(cgroupContainerId(`4:memory:/docker/${ID}\n`)).toBe(ID);
    expect(cgroupContainerId(`0::/kubepods.slice/x/cri-containerd-${ID}.scope\n`)).toBe(ID);
    expect(cgroupContainerId('0::/user.slice/session-3.scope\n')).toBeNull();
    expect(dockerRef('docker://web')).toBe('web');
    expect(dockerRef('/usr/bin/node')).toBeNull();
  });
});

describe('ELF symbol lookup', () => {
  test('node defines OpenSSL functions; a shared libc does not; a non-ELF gives nothing', () => {
    expect([...definedFunctions(process.execPath, ['SSL_read', 'SSL_write', 'no_such_fn'])].sort()).toEqual(['SSL_read', 'SSL_write']);
    expect(tlsFamilies(process.execPath)).toEqual(['OpenSSL']);
    const libc = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.slice(l.indexOf('/'))).find((p) => /\/libc\.so\.6$/.test(p));
    expect(libc).toBeDefined();
    expect(tlsFamilies(libc!)).toEqual([]);
    expect(tlsFamilies(__filename)).toEqual([]);
  });

  test('a system libssl and libgnutls are recognised by their dynamic symbols', () => {
    const libs = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
    const path = (so: string) => new RegExp(`${so.replace(/\./g, '\\.')} \\(libc6,x86-64\\) => (\\S+)`).exec(libs)?.[1];
    expect(tlsFamilies(path('libssl.so.3')!)).toEqual(['OpenSSL']);
    expect(tlsFamilies(path('libgnutls.so.30')!)).toEqual(['GnuTLS']);
  });
});
