// Type-aware lint for src, tests and scripts; formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Imports point down. Each folder of src/ sits in a layer and may import only from folders in
// lower layers: never from its own layer's other folders, never upward, never from the wiring
// and entry points on top (src/app.ts, src/main.ts, src/app/, src/cli/). So a folder cycle
// cannot exist. Tests, benchmarks and scripts sit outside and may import anything.
const LAYERS = [
  ['core'], // record, mapping and dead-letter types, errors, clock, logger, SQL identifiers
  ['util'], // small helpers on top of core (bounded waits, progress, project root)
  ['config', 'resilience'],
  ['pipeline'],
  ['kafka', 'sink'],
  ['dlq'],
  ['replay', 'metrics', 'sample'],
  ['ops'], // operator tools: offsets of both stores, reset-offsets, status, config sources
];
const TOP = ['app', 'cli', 'app.js', 'main.js'];

const layering = LAYERS.flatMap((layer, rank) => {
  const below = LAYERS.slice(0, rank).flat();
  return layer.map((folder) => {
    const banned = [
      ...LAYERS.slice(rank)
        .flat()
        .filter((f) => f !== folder),
      ...TOP,
    ];
    const names = banned.map((f) => f.replace('.', '\\.')).join('|');
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${names})(/|$)`,
                message:
                  `src/${folder}/ may import only from lower layers (${below.join(', ') || 'none'}): ` +
                  'imports point down (see LAYERS in eslint.config.mjs).',
              },
            ],
          },
        ],
      },
    };
  });
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    // node:test's test()/describe() return promises the runner awaits itself.
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  ...layering,
);
