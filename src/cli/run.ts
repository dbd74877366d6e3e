/**
 * Runs the CLI from source (`node --import tsx src/cli/run.ts ...`), for tests and development;
 * bin/natter.js runs the same main() from the compiled dist/.
 */
import { main } from './main.js';

await main(process.argv);
