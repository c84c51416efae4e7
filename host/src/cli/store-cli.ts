// What the image commands share: opening the store from the global flags, resolving arguments.
import type { CommandContext } from './command.js';
import { ImageStore, type ImageRecord } from '../store/images.js';
import type { Result } from '../result.js';
import type { TspodError } from '../errors.js';

export function openStore(ctx: CommandContext): Result<ImageStore, TspodError> {
  return ImageStore.open(ctx.globals.dir);
}

/** rkt's short form in tables: sha512- and the first 12 hex digits. */
export function shortId(id: string, full: boolean): string {
  return full ? id : id.slice(0, 'sha512-'.length + 12);
}

export function versionOf(r: ImageRecord): string {
  return r.labels['version'] ?? '';
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0;
}
