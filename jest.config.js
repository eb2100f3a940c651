// Three levels (see ARCHITECTURE.md): unit specs beside the code, integration specs on the real
// Redis and BullMQ, e2e specs that spawn the built gateway and worker processes.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const shared = {
  rootDir: __dirname,
  // NestJS 12, file-type (with its tokenizer packages) and content-disposition (under
  // @fastify/static, which Bull Board serves its assets with) ship ES modules only; Node runs them
  // (require(esm)) but jest does not, so jest compiles them to CommonJS like our own code.
  transform: { '^.+\\.(ts|js|mjs)$': swc },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|@fastify|fastify-plugin|file-type|strtok3|token-types|@tokenizer|uint8array-extras|@borewit|content-disposition)/)',
  ],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@app/core(|/.*)$': '<rootDir>/libs/core/src$1',
    '^@app/session(|/.*)$': '<rootDir>/libs/session/src$1',
    '^@app/queue(|/.*)$': '<rootDir>/libs/queue/src$1',
  },
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-timeout.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/e2e-timeout.ts'],
    },
  ],
};
