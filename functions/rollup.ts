import functions from '@azure/functions';
import { storesFromEnvironment } from '../src/config/composition-root.js';
import { rollupOptionsFrom } from '../src/config/core-options.js';
import { loadSettings } from '../src/config/settings.js';
import { createRollupHandler } from './handlers/rollup.js';

functions.app.timer('rollup', {
  schedule: '%ROLLUP_SCHEDULE%',
  handler: createRollupHandler(
    () => storesFromEnvironment(loadSettings()),
    () => rollupOptionsFrom(loadSettings()),
  ),
});
