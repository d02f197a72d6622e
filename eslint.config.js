// ESLint (flat config) for the project's JavaScript: the widget (classic
// scripts on customer pages), the admin page and console (ES modules),
// and the browser tests (Node, with page.evaluate callbacks that run in
// the browser). `make lint` runs it; see package.json for the pinned
// versions.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['**/node_modules/**', 'public/wasm/**', 'e2e/screenshots/**', 'edge/**', 'bench/**'],
  },
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': ['error', { destructuring: 'all' }],
      'no-unused-vars': ['error', { args: 'after-used', ignoreRestSiblings: true }],
      'no-throw-literal': 'error',
      'no-implicit-coercion': ['error', { allow: ['!!', '+'] }],
      'object-shorthand': ['error', 'properties'],
      'prefer-template': 'off',
    },
  },
  {
    // Loaded by customer pages as classic scripts, inside one IIFE each.
    files: ['widget/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  {
    // The markdown renderer: an ES module the widget imports lazily and the
    // admin page and console import from /assets/…/shared/.
    files: ['widget/shared/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser } },
  },
  {
    files: ['public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser } },
  },
  {
    // Examples for receivers (webhook signature checks), run by Go tests.
    files: ['relay/**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    // Node test files whose page.evaluate callbacks run in the browser.
    files: ['e2e/**/*.js', 'eslint.config.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
  },
];
