#!/usr/bin/env node
// Thin launcher: all logic lives in the compiled host (dist/), built by `npm ci` / `npm run build`.
import { main } from '../dist/host/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
