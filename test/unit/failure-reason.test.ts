import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH } from '../../src/contracts/reconciliation-result.js';
import { failureReason } from '../../src/domain/failure-reason.js';

describe('the reason stored when a source cannot be read', () => {
  it("names the HTTP status and the service's error code before its message", () => {
    expect(failureReason(new RestError("Metric: ProcessedPromptTokens does not support requested dimension combination.", { code: 'BadRequest', statusCode: 400 }))).toBe(
      'HTTP 400 BadRequest: Metric: ProcessedPromptTokens does not support requested dimension combination.',
    );
    expect(failureReason(new RestError("The Resource 'Microsoft.CognitiveServices/accounts/aoai-old' was not found.", { code: 'ResourceNotFound', statusCode: 404 }))).toMatch(/^HTTP 404 ResourceNotFound: /);
  });

  it('takes the status of the cause when an adapter wrapped the SDK error', () => {
    const wrapped = new Error('metrics of eastus failed', { cause: new RestError('denied', { code: 'AuthorizationFailed', statusCode: 403 }) });
    expect(failureReason(wrapped)).toBe('HTTP 403 AuthorizationFailed: denied');
  });

  it('keeps one short line and masks credentials a message may echo', () => {
    const reason = failureReason(
      Object.assign(new Error(`refused\n\tAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJl at https://x.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef ${'x'.repeat(400)}`), { statusCode: 401 }),
    );
    expect(reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
    expect(reason).not.toMatch(/[\n\t]|eyJ|abc%2Fdef/);
    expect(reason).toMatch(/^HTTP 401: refused Authorization: Bearer \*\*\* at https:\/\/x\.blob\.core\.windows\.net\/c\?sv=2024&sig=\*\*\* x+…$/);
  });

  it('masks the keys of connection strings, JSON secrets, headers and other credential schemes', () => {
    const secrets = ['c2VjcmV0S0VZc2VjcmV0S0VZ', 'SHAREDkeySECRET123=', 'CLIENTsecretVALUE', 'opaqueACCESStoken', '0123456789abcdef0123', 'dXNlcjpwYXNzd29yZA==', 'abc%2Fdef'];
    const message = [
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0S0VZc2VjcmV0S0VZ;EndpointSuffix=core.windows.net',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SHAREDkeySECRET123=',
      '{"client_secret":"CLIENTsecretVALUE","access_token":"opaqueACCESStoken"}',
      'Ocp-Apim-Subscription-Key: 0123456789abcdef0123',
      'Authorization: Basic dXNlcjpwYXNzd29yZA==',
      'https://x.blob.core.windows.net/c?sv=2024%26sig%3Dabc%2Fdef',
    ].join(' ');
    const reason = failureReason(Object.assign(new Error(message), { statusCode: 403, code: 'AuthorizationFailed' }));
    expect(secrets.filter((secret) => reason.includes(secret))).toEqual([]);
    // The names stay, so the reason still says what was refused.
    expect(reason).toContain('AccountName=acct;AccountKey=***;');
    expect(reason).toContain('SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=***');
  });

  it('names an error without a status by its name', () => {
    expect(failureReason(new TypeError('metrics response is not an object'))).toBe('TypeError: metrics response is not an object');
  });
});
