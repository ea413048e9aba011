/** `openledger status` and `openledger accounts`: read a running node's API. */
import type { Command } from 'commander';
import { DEFAULT_API, NodeClient } from '../client.ts';
import { printJson, printTable } from '../output.ts';

export function statusCommands(program: Command) {
  program
    .command('status')
    .description("show a running node's chain, block height, index and contract addresses")
    .option('--api <url>', 'node API', process.env.OPENLEDGER_API ?? DEFAULT_API)
    .option('--json', 'print JSON', false)
    .action(async (o) => {
      const st = await new NodeClient(o.api).request('GET', '/v1/status');
      if (o.json) return printJson(st);
      console.log(`openledger ${st.version}`);
      console.log(`chain      ${st.chainId}${st.embeddedChain ? ' (embedded Anvil)' : ''} at ${st.rpcUrl}`);
      console.log(`block      ${st.blockNumber} (indexed ${st.indexedBlock ?? 'none'})`);
      console.log(`operator   ${st.operator}`);
      console.log('contracts');
      for (const [k, v] of Object.entries(st.contracts)) console.log(`  ${k.padEnd(20)} ${v}`);
    });

  program
    .command('accounts')
    .description("list the node's operator and dev accounts with their OPEN balances")
    .option('--api <url>', 'node API', process.env.OPENLEDGER_API ?? DEFAULT_API)
    .option('--json', 'print JSON', false)
    .action(async (o) => {
      const { data } = await new NodeClient(o.api).request('GET', '/v1/accounts');
      if (o.json) return printJson(data);
      printTable(
        data.map((a: any, i: number) => ({ '#': a.role === 'operator' ? 0 : i, address: a.address, role: a.role, OPEN: a.openFormatted, native: (Number(a.native) / 1e18).toFixed(4) })),
      );
    });
}
