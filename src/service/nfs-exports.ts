// NFS exports as the nfsserver agent takes them, one line ("/path client(opts) client(opts); /path2 ...")
// or a file of such lines: parsing, validation with clear reasons, and exportfs argv.
import { isIPv4, isIPv6, splitList, checkAbsolutePath } from '../ocf/params';

// ---- exports: "/path client(opts) client(opts); /path2 client(opts)" or a file of such lines ----

export interface ExportClient { client: string; options: string[] }
export interface ExportEntry { path: string; clients: ExportClient[] }

const PATH_RE = /^\/[A-Za-z0-9._+@%=~\/-]*$/;
const FLAG_OPTS = new Set([
  'rw', 'ro', 'sync', 'async', 'root_squash', 'no_root_squash', 'all_squash', 'no_all_squash',
  'subtree_check', 'no_subtree_check', 'secure', 'insecure', 'crossmnt', 'nohide', 'hide',
  'wdelay', 'no_wdelay', 'secure_locks', 'insecure_locks', 'auth_nlm', 'no_auth_nlm',
]);
const VALUE_OPTS: Record<string, RegExp> = {
  anonuid: /^\d{1,10}$/, anongid: /^\d{1,10}$/, fsid: /^(\d{1,10}|root|[0-9a-fA-F-]{32,36})$/,
  sec: /^(sys|krb5|krb5i|krb5p)(:(sys|krb5|krb5i|krb5p))*$/,
};

function checkClient(c: string): string | undefined {
  if (c === '*') return undefined;
  if (c.includes(':::')) return `bad client address "${c.slice(0, 50)}"`; // isIPv6 lets ":::" through
  if (c.startsWith('@')) return /^@[A-Za-z0-9._-]{1,64}$/.test(c) ? undefined : `bad netgroup "${c.slice(0, 40)}"`;
  const slash = c.indexOf('/');
  if (slash >= 0) {
    const [a, m] = [c.slice(0, slash), c.slice(slash + 1)];
    if (isIPv4(a) && (/^\d{1,2}$/.test(m) && Number(m) <= 32 || isIPv4(m))) return undefined;
    if (isIPv6(a) && /^\d{1,3}$/.test(m) && Number(m) <= 128) return undefined;
    return `bad client network "${c.slice(0, 50)}" (IPv4/0-32, IPv4/netmask or IPv6/0-128)`;
  }
  if (isIPv4(c) || isIPv6(c)) return undefined;
  if (/^[A-Za-z0-9*?]([A-Za-z0-9*?.-]{0,252})$/.test(c) && !/^[\d.]+$/.test(c)) return undefined;
  return `bad client "${c.slice(0, 50)}" (an address, a network, a host name, *, or @netgroup)`;
}

/** Parse one export line. Throws an Error with a one-line reason. */
function parseExportLine(line: string, where: string): ExportEntry {
  const words = line.trim().split(/\s+/);
  const path = words.shift()!;
  if (!path.startsWith('/')) throw new Error(`${where}: export path must be absolute, not "${path.slice(0, 40)}"`);
  if (!PATH_RE.test(path) || path.split('/').includes('..')) throw new Error(`${where}: export path "${path.slice(0, 60)}" may hold only letters, digits and ._+@%=~/- (no "..")`);
  if (words.length === 0) throw new Error(`${where}: export ${path} names no client (write e.g. "${path} 192.0.2.0/24(rw)")`);
  const clients: ExportClient[] = [];
  for (const w of words) {
    if (w.startsWith('(')) throw new Error(`${where}: options "${w.slice(0, 30)}" of ${path} must follow a client without a space (e.g. 192.0.2.0/24(rw))`);
    const m = /^([^()]+)(?:\(([^()]*)\))?$/.exec(w);
    if (!m) throw new Error(`${where}: cannot parse client "${w.slice(0, 50)}" of ${path}`);
    const client = m[1]!;
    const why = checkClient(client);
    if (why) throw new Error(`${where}: ${path}: ${why}`);
    const options = m[2] === undefined ? [] : m[2].split(',').filter(Boolean);
    for (const o of options) {
      const [k, v] = o.split('=', 2) as [string, string | undefined];
      if (v === undefined ? !FLAG_OPTS.has(k) : !(VALUE_OPTS[k]?.test(v))) {
        throw new Error(`${where}: ${path} ${client}: unknown or bad export option "${o.slice(0, 30)}"`);
      }
    }
    if (options.includes('rw') && options.includes('ro')) throw new Error(`${where}: ${path} ${client}: both rw and ro`);
    clients.push({ client, options });
  }
  return { path, clients };
}

/** Inline exports: one-line syntax, exports separated by ";". */
export function parseInlineExports(s: string): ExportEntry[] {
  const parts = s.split(';').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('names no export');
  const out = parts.map((x, i) => parseExportLine(x, parts.length > 1 ? `export ${i + 1}` : 'export'));
  const dup = out.find((e, i) => out.findIndex((f) => f.path === e.path) !== i);
  if (dup) throw new Error(`exports ${dup.path} twice (list all its clients on one entry)`);
  return out;
}

/** An exports(5)-like file: one export per line, "#" comments, "\" continues a line. */
export function parseExportsFile(text: string, file: string): ExportEntry[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const out: ExportEntry[] = [];
  lines.forEach((raw, i) => {
    const l = raw.replace(/#.*/, '').trim();
    if (l) out.push(parseExportLine(l, `${file} line ${i + 1}`));
  });
  if (out.length === 0) throw new Error(`${file} lists no export`);
  const dup = out.find((e, i) => out.findIndex((f) => f.path === e.path) !== i);
  if (dup) throw new Error(`${file} exports ${dup.path} twice (list all its clients on one line)`);
  return out;
}

export const isExportsFile = (s: string) => !/[\s(;]/.test(s);

export function checkExportsParam(s: string): string | undefined {
  if (isExportsFile(s)) return checkAbsolutePath(s) ? `must be an absolute exports file path or inline exports like "/srv/home 192.0.2.0/24(rw)"` : undefined;
  try { parseInlineExports(s); return undefined; } catch (e) { return (e as Error).message; }
}

export function checkVersions(s: string): string | undefined {
  const v = splitList(s);
  if (v.length === 0) return 'must list NFS versions (3, 4, 4.0, 4.1, 4.2)';
  const bad = v.find((x) => !/^(3|4|4\.[012])$/.test(x));
  return bad ? `must list NFS versions among 3, 4, 4.0, 4.1, 4.2, and "${bad.slice(0, 20)}" is not one` : undefined;
}


/** exportfs argv for one client of one export. */
export function exportfsArgs(e: ExportEntry, cl: ExportClient): string[] {
  const opts = [...cl.options];
  if (!opts.some((o) => o === 'subtree_check' || o === 'no_subtree_check')) opts.push('no_subtree_check');
  if (!opts.includes('rw') && !opts.includes('ro')) opts.unshift('ro');
  return ['-i', '-o', opts.join(','), `${exportfsClient(cl.client)}:${e.path}`];
}

/** exportfs splits "client:path" at the first colon: IPv6 clients go in brackets, "[2001:db8::]/64". */
export function exportfsClient(client: string): string {
  const [a, len] = client.split('/', 2) as [string, string | undefined];
  return isIPv6(a) ? `[${a}]${len === undefined ? '' : `/${len}`}` : client;
}

