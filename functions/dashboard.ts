import functions from '@azure/functions';
import { dashboardSignInFrom } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createDashboardHandler } from './handlers/dashboard.js';

// The page is static and anonymous: it holds no data; every report it shows comes from the API with the
// caller's own bearer token. config.json carries the public sign-in settings (DASHBOARD_CLIENT_ID and friends).
functions.app.http('dashboard', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'dashboard/{*path}',
  handler: createDashboardHandler({ signIn: () => dashboardSignInFrom(loadSettings()) }),
});
