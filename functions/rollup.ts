import functions from '@azure/functions';
import { rollupOptionsFrom, storesFromEnvironment } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createRollupHandler } from './handlers/rollup.js';

functions.app.timer('rollup', {
  schedule: '%ROLLUP_SCHEDULE%',
  handler: createRollupHandler(
    () => storesFromEnvironment(loadSettings()),
    () => rollupOptionsFrom(loadSettings()),
  ),
});
