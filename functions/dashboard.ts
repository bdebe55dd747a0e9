import functions from '@azure/functions';
import { createDashboardHandler } from './handlers/dashboard.js';

// The page is static and anonymous: it holds no data; every report it shows comes from the API with the
// caller's own bearer token.
functions.app.http('dashboard', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'dashboard/{*path}',
  handler: createDashboardHandler(),
});
