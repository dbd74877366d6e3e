// Type-aware lint (typescript-eslint strictTypeChecked) plus the import direction of ARCHITECTURE.md:
// protocol <- core <- commands <- net <- http <- cli; store/*, bus/* and auth/ import only core and protocol;
// client imports only protocol; tui (the terminal client) only client and protocol; web/ (the browser GUI) imports only src/client and src/protocol of ours.
// A wrong import fails `npm test`.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((group) => ({ group: [group], message })) },
    ],
  },
});

const ours = (...dirs) => dirs.flatMap((dir) => [`**/${dir}/**`, `../${dir}/*`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'eslint.config.js', 'bin/**', 'scripts/**', 'test-output/**', '.scratch/**', '.tmp/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
    },
  },
  layer(['src/protocol/**'], [...ours('core', 'commands', 'net', 'http', 'cli', 'store', 'bus', 'auth', 'config', 'client', 'tui'), 'node:*'], 'protocol/ imports nothing of ours and no Node modules (it runs in the browser).'),
  layer(['src/core/**'], [...ours('commands', 'net', 'http', 'cli', 'store', 'bus', 'auth', 'config', 'client', 'tui'), 'node:*'], 'core/ imports only protocol/: no Node modules, drivers or sockets.'),
  layer(['src/commands/**'], [...ours('net', 'http', 'cli', 'store', 'bus', 'auth', 'config', 'client', 'tui'), 'node:*'], 'commands/ imports only core/ and protocol/.'),
  layer(['src/net/**'], ours('http', 'cli', 'store', 'bus', 'auth', 'config', 'client', 'tui'), 'net/ imports commands/, core/ and protocol/ only.'),
  layer(['src/http/**'], ours('cli', 'store', 'bus', 'auth', 'config', 'client', 'tui'), 'http/ imports net/, commands/, core/ and protocol/ only.'),
  ...['store', 'bus', 'auth'].map((dir) =>
    layer([`src/${dir}/**`], ours(...['commands', 'net', 'http', 'cli', 'config', 'client', 'tui', 'store', 'bus', 'auth'].filter((d) => d !== dir)), `${dir}/ imports only core/ and protocol/.`),
  ),
  layer(['src/config/**'], ours('commands', 'net', 'http', 'cli', 'store', 'bus', 'client', 'tui'), 'config/ imports only core/ and protocol/.'),
  layer(['src/tui/**'], ours('core', 'commands', 'net', 'http', 'cli', 'store', 'bus', 'auth', 'config'), 'tui/ (the terminal client) imports only client/ and protocol/ of ours, like the web client.'),
  layer(['src/client/**'], [...ours('core', 'commands', 'net', 'http', 'cli', 'store', 'bus', 'config', 'tui'), 'node:*'], 'client/ imports only protocol/ (it runs in the browser).'),
  // The page: browser globals come from web/tsconfig.json (lib DOM, no Node types), which the type-aware rules use;
  // typescript-eslint turns no-undef off for TypeScript, so tsc is what refuses an unknown global.
  {
    files: ['web/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Any folder of src/ but client/ and protocol/ (gitignore-style: the later "!" lines re-allow).
              group: ['**/src/*', '!**/src/client', '!**/src/client/**', '!**/src/protocol', '!**/src/protocol/**'],
              message: 'web/ imports only src/client/ and src/protocol/ of ours: the rest is the server (ARCHITECTURE.md).',
            },
            { group: ['**/test/**', '**/bench/**', '**/dist/**'], message: 'web/ imports only src/client/ and src/protocol/ of ours.' },
            { group: ['node:*'], message: 'web/ runs in the browser: no Node modules.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', 'module', '__dirname', '__filename', 'global', 'setImmediate'].map((name) => ({
          name,
          message: 'web/ runs in the browser: no Node globals.',
        })),
      ],
    },
  },
);
