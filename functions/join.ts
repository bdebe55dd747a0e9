import functions from '@azure/functions';
import { joinPortsFromEnvironment } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createJoinHandler } from './handlers/join-diagnostics.js';

functions.app.timer('join', {
  schedule: '%JOIN_SCHEDULE%',
  handler: createJoinHandler(
    () => joinPortsFromEnvironment(loadSettings()),
    () => ({ graceInMs: loadSettings().JOIN_GRACE_MINUTES * 60_000, watermarkName: 'join-requestresponse' }),
  ),
});
