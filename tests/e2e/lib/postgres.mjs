// A throwaway PostgreSQL server for end-to-end tests (Debian package postgresql): initdb
// into a temp dir, `postgres` on a free loopback port with its Unix socket in that dir,
// stopped by PID, the dir removed by close(). PostgreSQL refuses to run as root, so under
// root (CI) initdb and postgres run as `nobody` (setpriv) in a dir that user owns. Rows are
// read back with psql as JSON. Binaries: $SWITCHYARD_PG_BINDIR, else
// /usr/lib/postgresql/<version>/bin.
//
//   const pg = await startPostgres();
//   await pg.exec('CREATE TABLE t (id int)');
//   const rows = await pg.rows('SELECT id FROM t');   // [{ id: 1 }, ...]
//   await pg.stop(); await pg.start();                // same data, same port
//   await pg.close();
import { spawn, execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.mjs';

const NOBODY = 65534;

function bindir() {
  if (process.env.SWITCHYARD_PG_BINDIR) return process.env.SWITCHYARD_PG_BINDIR;
  for (const v of [17, 16, 15, 14]) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'postgres'))) return dir;
  }
  throw new Error('no PostgreSQL server found: install Debian\'s postgresql or set SWITCHYARD_PG_BINDIR');
}

const asServer = (args) => (process.getuid() === 0
  ? ['/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...args]]
  : [args[0], args.slice(1)]);

function run(file, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 64 << 20, ...options }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

// `settings`: extra server settings ('max_connections=20'). `fsync: false` (the default)
// trades crash safety of the throwaway data for speed.
export async function startPostgres({ settings = [], fsync = false } = {}) {
  const bin = bindir();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  if (process.getuid() === 0) chownSync(dir, NOBODY, NOBODY);
  const data = join(dir, 'data');
  const [initFile, initArgs] = asServer([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust',
    '-E', 'UTF8', '--no-sync', '--no-instructions']);
  await run(initFile, initArgs, { cwd: dir });

  const pg = {
    dir, port: 0, child: null, log: '',
    get dsn() { return `host=127.0.0.1 port=${this.port} user=postgres dbname=postgres`; },
    get url() { return `postgresql://postgres@127.0.0.1:${this.port}/postgres`; },
    async start() {
      if (this.child) return;
      const args = [join(bin, 'postgres'), '-D', data, '-p', String(this.port), '-k', dir,
        '-c', 'listen_addresses=127.0.0.1', '-c', `fsync=${fsync ? 'on' : 'off'}`,
        ...(fsync ? [] : ['-c', 'full_page_writes=off']), ...settings.flatMap((s) => ['-c', s])];
      const [file, rest] = asServer(args);
      const child = spawn(file, rest, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      child.exited = new Promise((resolve) => child.once('exit', (code) => { child.code = code; resolve(); }));
      let seen = '';
      await new Promise((resolve, reject) => {
        const onData = (d) => {
          seen += d;
          this.log += d;
          if (seen.includes('database system is ready to accept connections')) {
            child.stderr.off('data', onData);
            child.stderr.on('data', (more) => { this.log += more; });
            resolve();
          }
        };
        child.stderr.on('data', onData);
        child.exited.then(() => reject(new Error(`postgres exited (${child.code}):\n${seen}`)));
      });
    },
    // Fast shutdown: sessions are ended (57P01), the data stays.
    async stop() {
      const child = this.child;
      if (!child) return;
      this.child = null;
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20000);
      await child.exited;
      clearTimeout(killer);
    },
    async close() {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    // Runs SQL with psql (statements separated by ;); throws with PostgreSQL's message.
    exec(sql) {
      return run(join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', this.dsn, '-c', sql]);
    },
    // The rows of one query, as JSON objects (column name → value; json/jsonb as JSON).
    async rows(sql) {
      const out = await run(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', this.dsn,
        '-c', `SELECT coalesce(json_agg(q), '[]') FROM (${sql}) q`]);
      return JSON.parse(out);
    },
    async scalar(sql) {
      const rows = await this.rows(sql);
      if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows`);
      return Object.values(rows[0])[0];
    },
  };
  for (let attempt = 0; ; attempt++) {
    pg.port = await freePort();
    try {
      await pg.start();
      return pg;
    } catch (e) {
      pg.child = null;
      if (attempt === 2) { rmSync(dir, { recursive: true, force: true }); throw e; }
    }
  }
}
