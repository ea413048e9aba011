/**
 * The `openledger` command. Each command lives in commands/<name>.ts and is added here with one
 * line. Errors print their message and hint and exit 1; --verbose prints stacks.
 */
import { Command, CommanderError } from 'commander';
import { OpenLedgerError } from '../util/errors.ts';
import { VERSION } from '../version.ts';
import { upCommand } from './commands/up.ts';
import { statusCommands } from './commands/status.ts';
import { attributionCommands } from './commands/attribution.ts';
import { datanetCommands } from './commands/datanet.ts';
import { modelsCommands } from './commands/models.ts';
import { trainCommands } from './commands/train.ts';
import { chatCommands } from './commands/chat.ts';
import { escrowCommands } from './commands/escrow.ts';
import { rewardsCommands } from './commands/rewards.ts';
import { govCommands } from './commands/gov.ts';

export function buildProgram(): Command {
  const program = new Command('openledger')
    .description('OpenLedger node: datanets, Model Factory, OpenLoRA serving and Proof of Attribution on an EVM ledger')
    .version(VERSION)
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  upCommand(program);
  statusCommands(program);
  attributionCommands(program);
  datanetCommands(program);
  modelsCommands(program);
  trainCommands(program);
  chatCommands(program);
  escrowCommands(program);
  rewardsCommands(program);
  govCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof OpenLedgerError) {
      console.error(`error: ${e.fullMessage}`);
    } else {
      console.error(`error: ${(e as Error).message ?? e}`);
    }
    if (program.opts().verbose) console.error((e as Error).stack);
    process.exitCode = 1;
  }
}
