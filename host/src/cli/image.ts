// `tspod image SUBCOMMAND`: one module per subcommand, loaded when used.
import { runSubcommand, type CommandContext, type CommandModule, type Subcommand } from './command.js';

/** Modules are named after their subcommand; each exports run(ctx, argv). */
async function load(module: string): Promise<CommandModule> {
  return (await import(`./${module}.js`)) as CommandModule;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: { summary: 'list images in the store', load: () => load('image-list') },
  rm: { summary: 'remove images from the store', load: () => load('image-rm') },
  'cat-manifest': { summary: "print an image's manifest", load: () => load('image-cat-manifest') },
  export: { summary: 'write an image from the store to an .aci file', load: () => load('image-export') },
  extract: { summary: "extract an image's rootfs (no dependencies) into a directory", load: () => load('image-extract') },
  render: { summary: "render an image's rootfs with its dependencies, as an app sees it", load: () => load('image-render') },
  gc: { summary: 'remove unused images, orphaned trees and blobs, stale temporary files', load: () => load('image-gc') },
  verify: { summary: 'check rendered trees node by node against their images', load: () => load('image-verify') },
  build: { summary: 'build a deterministic ACI from a layout directory', load: () => load('image-build') },
  sign: { summary: 'write an armored detached signature for an ACI', load: () => load('image-sign') },
};

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  return runSubcommand(ctx, 'image', SUBCOMMANDS, argv);
}
