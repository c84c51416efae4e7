// The app an OCI/Docker image runs, written as an appc image manifest so every image in tspod has
// one shape (`tspod image cat-manifest` shows it): Entrypoint + Cmd, Env, WorkingDir, User,
// ExposedPorts as named ports, Volumes as mount points, Labels as user annotations.
import type { OciConfig } from './image.js';
import { hostAppcOsArch } from '../appc/types.js';

/** appc names are AC Identifiers: lower case, no ':' (a registry port becomes '-PORT'). */
export function appcNameOf(repository: string): string {
  return repository.toLowerCase().replace(/:/g, '-').replace(/[^a-z0-9._~/-]/g, '-');
}

/** An AC Name for a path or port: lower-case alphanumerics joined by single dashes. */
function acName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'root';
}

function userAndGroup(user: string | undefined): { user: string; group: string } {
  if (!user) return { user: '0', group: '0' };
  const [u, g] = user.split(':');
  // A name without a group resolves its group in the image's /etc/passwd at run; appc needs a value.
  return { user: u || '0', group: g || (/^\d+$/.test(u ?? '') ? u! : '0') };
}

function ports(exposed: Record<string, unknown> | undefined): Array<{ name: string; protocol: string; port: number; count: number; socketActivated: boolean }> {
  return Object.keys(exposed ?? {}).flatMap((key) => {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
    if (!m) return [];
    const protocol = m[2] ?? 'tcp';
    return [{ name: `${m[1]}-${protocol}`, protocol, port: Number(m[1]), count: 1, socketActivated: false }];
  });
}

export function appManifestOf(config: OciConfig, repository: string, tag: string | undefined): Record<string, unknown> {
  const c = config.config ?? {};
  const exec = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const env = (c.Env ?? []).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? { name: e, value: '' } : { name: e.slice(0, i), value: e.slice(i + 1) };
  });
  const host = hostAppcOsArch();
  const arch = config.architecture === 'amd64' || config.architecture === undefined ? host?.arch ?? 'amd64' : config.architecture;
  const labels = [
    ...(tag ? [{ name: 'version', value: tag }] : []),
    { name: 'os', value: config.os ?? 'linux' },
    { name: 'arch', value: arch === 'arm64' ? 'aarch64' : arch },
  ];
  return {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: appcNameOf(repository),
    labels,
    app: {
      ...(exec.length > 0 && { exec }),
      ...userAndGroup(c.User),
      workingDirectory: c.WorkingDir || '/',
      environment: env,
      mountPoints: Object.keys(c.Volumes ?? {}).map((path) => ({ name: acName(path), path, readOnly: false })),
      ports: ports(c.ExposedPorts),
      ...(c.Labels && Object.keys(c.Labels).length > 0 && { userAnnotations: c.Labels }),
    },
  };
}
