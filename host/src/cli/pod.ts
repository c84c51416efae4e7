// `tspod pod SUBCOMMAND`: pod file tools, one module per subcommand, loaded when used.
import { runSubcommand, type CommandContext, type CommandModule, type Subcommand } from './command.js';

const SUBCOMMANDS: Record<string, Subcommand> = {
  convert: { summary: 'convert between the TOML pod file and the appc pod manifest JSON', load: async () => (await import('./pod-convert.js')) as CommandModule },
};

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  return runSubcommand(ctx, 'pod', SUBCOMMANDS, argv);
}
