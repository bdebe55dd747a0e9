import functions from '@azure/functions';

// Each file in functions/ registers its own triggers; the package.json "main" glob loads them all.
functions.app.setup({ enableHttpStream: false });
