import { execFile } from 'node:child_process';
import path from 'node:path';

/**
 * The rule "the gateway never imports a driver" lives in eslint.config.mjs. This runs ESLint on
 * the real config, in its own process (the config is an ES module, which jest's module sandbox
 * cannot load), over small in-memory files, with only `no-restricted-imports` enabled (type
 * information is not needed for it and would cost seconds).
 */
const root = path.resolve(__dirname, '../../..');

const LINT = `
const { ESLint } = require('eslint');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const { code, filePath } = JSON.parse(input);
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  });
  const [result] = await eslint.lintText(code, { filePath });
  process.stdout.write(JSON.stringify(result.messages));
});
`;

interface LintMessage {
  ruleId: string | null;
  line: number;
  message: string;
}

function lint(filePath: string, code: string): Promise<LintMessage[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', LINT],
      { cwd: root, timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`eslint failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as LintMessage[]);
      },
    );
    child.stdin!.end(JSON.stringify({ code, filePath }));
  });
}

const DRIVER_IMPORTS = [
  "import { createSessionDriver } from '@app/session/drivers';",
  "import type { WwebjsClient } from '@app/session/drivers/wwebjs/wwebjs-client';",
  "import { SimulatorOutbox } from '../../../libs/session/src/drivers/simulator/simulator-outbox';",
  "import { createSessionDriver as f } from '../../../../libs/session/src/drivers';",
];
const CONTRACT_IMPORT = "import { SessionStore, SimulatorOutboxReader } from '@app/session';";

describe('lint: the gateway never imports a driver', () => {
  jest.setTimeout(60000);

  it('refuses every way into the drivers from a gateway file, type-only imports included', async () => {
    const messages = await lint(
      'apps/gateway/src/sessions/lint-probe.ts',
      [...DRIVER_IMPORTS, CONTRACT_IMPORT, ''].join('\n'),
    );
    const refused = messages.filter((m) => m.ruleId === 'no-restricted-imports');
    expect(refused.map((m) => m.line)).toEqual([1, 2, 3, 4]);
    expect(refused[0].message).toContain('The gateway never imports a driver');
    expect(messages.filter((m) => m.ruleId !== 'no-restricted-imports')).toEqual([]);
  });

  it('lets the gateway import the contract', async () => {
    expect(await lint('apps/gateway/src/sessions/lint-probe.ts', `${CONTRACT_IMPORT}\n`)).toEqual(
      [],
    );
  });

  it('lets the worker import the drivers', async () => {
    expect(
      await lint('apps/sender-worker/src/supervision/lint-probe.ts', `${DRIVER_IMPORTS[0]}\n`),
    ).toEqual([]);
  });
});
