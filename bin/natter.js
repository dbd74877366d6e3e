#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs through "prepare").
import { main } from '../dist/cli/main.js';

await main(process.argv);
