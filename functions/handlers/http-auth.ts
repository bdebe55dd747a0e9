import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  AuthenticationError,
  AuthenticationUnavailableError,
  type TokenValidator,
} from '../../src/adapters/auth/entra-token-validator.js';
import { requireRole, type Principal } from '../../src/domain/access.js';

export interface WithAccessOptions {
  /** Built on the first request and reused, so the signing keys are fetched once per worker, not per request. */
  readonly validator: () => TokenValidator;
  /**
   * An app role the caller's token must carry, e.g. `APP_ROLES.operationsRead`, or a list of which it must carry
   * one, or a function choosing them per request (a route whose writes need more than its reads).
   */
  readonly role?: string | readonly string[] | ((request: HttpRequest) => string | readonly string[]);
}

export type AuthorizedHttpHandler = (request: HttpRequest, context: InvocationContext, principal: Principal) => Promise<HttpResponseInit>;

/** The RFC 6750 token68 syntax of a bearer credential. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const RETRY_AFTER_SECONDS = 30;

/**
 * Wraps an HTTP handler in Microsoft Entra ID bearer authentication and app-role authorization: no usable
 * `Authorization: Bearer` header or an unacceptable token → 401, a missing role → 403, signing keys unreachable
 * → 503. Every response, the handler's included, is marked `Cache-Control: no-store` and `nosniff`: reports are
 * per caller and must not be served from a shared cache. Neither responses nor logs ever contain the token.
 */
export function withAccess(options: WithAccessOptions, handler: AuthorizedHttpHandler) {
  let validator: TokenValidator | undefined;
  return async function authorizedHttpHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const header = request.headers.get('authorization');
    // RFC 6750 §3.1: a request without authentication information gets a challenge without an error code.
    if (header === null || header.trim() === '') return unauthorized(context, 'missing bearer token', false);
    const match = BEARER.exec(header);
    if (!match) {
      return /^bearer\b/i.test(header) ? unauthorized(context, 'malformed bearer token') : unauthorized(context, 'the Authorization scheme must be Bearer', false);
    }

    validator ??= options.validator();
    let principal: Principal;
    try {
      principal = await validator.validate(match[1]!);
    } catch (error) {
      if (error instanceof AuthenticationError) return unauthorized(context, error.message);
      if (error instanceof AuthenticationUnavailableError) {
        context.error(`authentication unavailable: ${error.message}`);
        return secured({
          status: 503,
          headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
          jsonBody: { error: 'temporarily_unavailable', reason: 'tokens cannot be validated right now' },
        });
      }
      throw error;
    }

    if (options.role !== undefined) {
      const decision = requireRole(principal, typeof options.role === 'function' ? options.role(request) : options.role);
      if (!decision.ok) {
        context.warn(`forbidden: caller ${principal.oid ?? principal.appid ?? 'unknown'} ${decision.reason}`);
        return secured({
          status: 403,
          headers: { 'WWW-Authenticate': challenge('insufficient_scope', decision.reason) },
          jsonBody: { error: 'forbidden', reason: decision.reason },
        });
      }
    }
    return secured(await handler(request, context, principal));
  };
}

function unauthorized(context: InvocationContext, reason: string, tokenGiven = true): HttpResponseInit {
  context.warn(`unauthenticated request: ${reason}`);
  return secured({
    status: 401,
    headers: { 'WWW-Authenticate': tokenGiven ? challenge('invalid_token', reason) : 'Bearer' },
    jsonBody: { error: 'invalid_token', reason },
  });
}

/** RFC 6750 challenge; descriptions are our own fixed texts, kept to the characters a quoted-string allows. */
function challenge(error: string, description: string): string {
  return `Bearer error="${error}", error_description="${description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;
}

function secured(response: HttpResponseInit): HttpResponseInit {
  const headers = new Headers(response.headers);
  headers.set('Cache-Control', 'no-store');
  headers.set('X-Content-Type-Options', 'nosniff');
  return { ...response, headers };
}
