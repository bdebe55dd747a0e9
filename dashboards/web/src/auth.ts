import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import { h } from './dom.js';
import { parseSignInSettings, type SignInSettings } from './model.js';

/**
 * Sign-in with Microsoft Entra ID (or the local stack's stand-in): OAuth 2.0 authorization code with PKCE through
 * oidc-client-ts, as a public client holding no secret. The settings come from `config.json` beside the page.
 * The user (tokens included) lives in this tab's sessionStorage only; the access token is renewed before it
 * expires with the refresh token (Entra ID issues single-page apps one with `offline_access`), without a reload.
 */
export interface SignIn {
  /** The signed-in user's access token for the API, or null when nobody is signed in here. */
  accessToken(): string | null;
}

/** What changed: a sign-in just completed (`signed-in`), tokens were renewed or the user signed out. */
export type SignInChange = 'signed-in' | 'renewed' | 'signed-out';

/**
 * Builds the sign-in controls before `before`, completes a sign-in when the page is the redirect back from the
 * identity provider (restoring the page's filters), and reports changes to `onChange`. Never throws: a failure
 * is shown beside the controls and pasted tokens keep working.
 */
export async function startSignIn(before: HTMLElement, onChange: (change: SignInChange) => void): Promise<SignIn> {
  const status = h('p', { class: 'signin-status', testid: 'signin-status', role: 'status' });
  const signInButton = h('button', { type: 'button', testid: 'sign-in' }, 'Sign in');
  const signOutButton = h('button', { type: 'button', testid: 'sign-out' }, 'Sign out');
  const controls = h('div', { class: 'signin', testid: 'signin' }, signInButton, signOutButton, status);
  before.before(controls);
  let user: User | null = null;

  const show = () => {
    const signedIn = user !== null && !user.expired;
    signInButton.hidden = signedIn;
    signOutButton.hidden = !signedIn;
    controls.dataset['state'] = signedIn ? 'signed-in' : 'signed-out';
    if (user !== null) status.textContent = `Signed in as ${typeof user.profile.name === 'string' ? user.profile.name : user.profile.sub}.`;
    else if (status.dataset['error'] === undefined) status.textContent = 'Sign in with your organisation account, or paste a token below.';
  };
  const fail = (what: string, error: unknown) => {
    status.dataset['error'] = 'true';
    status.textContent = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  };

  let settings: SignInSettings | null;
  try {
    const response = await fetch(new URL('config.json', document.baseURI), { cache: 'no-cache', credentials: 'omit' });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    settings = parseSignInSettings(await response.json());
  } catch (error) {
    signInButton.disabled = true;
    signOutButton.hidden = true;
    fail('Sign-in is unavailable', error);
    return { accessToken: () => null };
  }
  if (settings === null) {
    controls.hidden = true;
    return { accessToken: () => null };
  }

  // The page's own URL without query or fragment: the redirect URI registered for the app (type "SPA").
  const redirectUri = `${location.origin}${location.pathname}`;
  const store = new WebStorageStateStore({ store: sessionStorage });
  const manager = new UserManager({
    authority: settings.authority,
    client_id: settings.clientId,
    redirect_uri: redirectUri,
    scope: settings.scope,
    response_type: 'code',
    userStore: store,
    stateStore: store,
    automaticSilentRenew: true,
    loadUserInfo: false,
    monitorSession: false,
  });

  const query = new URLSearchParams(location.search);
  if (query.has('state') && (query.has('code') || query.has('error'))) {
    try {
      const signedIn = await manager.signinCallback();
      if (signedIn) {
        user = signedIn;
        onChange('signed-in');
      }
      const filters = typeof signedIn?.state === 'string' && signedIn.state.startsWith('?') ? signedIn.state : '';
      history.replaceState(null, '', `${redirectUri}${filters}`);
    } catch (error) {
      history.replaceState(null, '', redirectUri);
      fail('Sign-in failed', error);
    }
  }
  if (user === null) user = await manager.getUser().catch(() => null);
  // A tab reopened after its access token expired renews it first, so the page's first requests carry a valid one.
  if (user !== null && user.expired && user.refresh_token) {
    user = await manager.signinSilent().catch((error: unknown) => {
      fail('Renewing the sign-in failed', error);
      return null;
    });
  }

  manager.events.addUserLoaded((loaded) => {
    user = loaded;
    show();
    onChange('renewed');
  });
  manager.events.addSilentRenewError((error) => fail('Renewing the sign-in failed', error));
  signInButton.addEventListener('click', () => {
    delete status.dataset['error'];
    // The filters ride along in the request state and come back with the code.
    manager.signinRedirect({ state: location.search }).catch((error: unknown) => fail('Sign-in failed', error));
  });
  signOutButton.addEventListener('click', () => {
    void manager.removeUser().then(() => {
      user = null;
      show();
      onChange('signed-out');
    });
  });
  show();
  return { accessToken: () => user?.access_token ?? null };
}
