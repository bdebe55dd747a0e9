import functions from '@azure/functions';
import { storesFromEnvironment } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createWeightsTimerHandler } from './handlers/weights.js';

functions.app.timer('storeWeights', {
  schedule: '%WEIGHTS_SCHEDULE%',
  handler: createWeightsTimerHandler(() => storesFromEnvironment(loadSettings()).aggregates),
});
