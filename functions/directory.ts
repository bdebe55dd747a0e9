import functions from '@azure/functions';
import { directoryFromEnvironment, tokenValidatorFrom } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createDirectoryEntryHandler, createDirectoryHandler, directoryRoles } from './handlers/directory.js';
import { withAccess } from './handlers/http-auth.js';

const ports = () => ({ directory: directoryFromEnvironment(loadSettings()) });
const access = { validator: () => tokenValidatorFrom(loadSettings()), role: directoryRoles };

functions.app.http('directory', {
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  route: 'directory',
  handler: withAccess(access, createDirectoryHandler(ports)),
});

functions.app.http('directoryEntry', {
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'anonymous',
  route: 'directory/{*identity}',
  handler: withAccess(access, createDirectoryEntryHandler(ports)),
});
