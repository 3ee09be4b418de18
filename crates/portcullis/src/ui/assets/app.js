// Portcullis web UI: the one script, enhancing server-rendered pages.
//
// It talks only to its own origin (the Content Security Policy allows nothing
// else) through the same /api/auth/* endpoints any app would use. It never
// sees the session: the cookies are HttpOnly, so page script cannot read them,
// and that is the point.
'use strict';

const MESSAGES = {
  invalid_credentials: 'Wrong username, e-mail address or password.',
  registration_closed: 'Registration is closed on this server.',
  account_exists: 'An account with this username or e-mail address already exists.',
  wrong_current_password: 'The current password is wrong.',
  email_not_verified: 'Your e-mail address is not verified yet. We have mailed you a link: open it, then sign in.',
  invalid_token: 'This link has expired, was already used, or a newer one was sent.',
  last_sign_in_method: 'This is the only way to sign in to your account: set a password, add a passkey or link another provider first.',
  provider_unavailable: 'The sign-in provider cannot be reached just now. Please try again in a moment.',
  invalid_code: 'That code is not right, or was used already. Try the next one your app shows.',
  mfa_expired: 'This sign-in has expired. Please sign in again.',
  totp_unavailable: 'Authenticator codes are unavailable on this server right now.',
  reauthentication_required: 'Please confirm it is you first.',
  invalid_passkey: "That passkey didn't work here. It may have been removed from your account.",
  passkey_exists: 'That passkey is already registered.',
  invalid_passkey_name: 'Give the passkey a name of up to 64 characters.',
  too_many_passkeys: 'Your account has as many passkeys as it can hold. Delete one first.',
  passkey_cancelled: 'The passkey request was cancelled or timed out.',
  passkeys_unavailable: 'Passkeys are not available on this server.',
  no_passkey: 'This account has no passkey. Use a code from your authenticator app.',
  link_sent: 'If an account uses this address, a link to choose a new password is on its way. It works for a short while and only once.',
  unavailable: 'The server is unavailable right now. Please try again in a moment.',
  network: "Can't reach the server. Check your connection and try again.",
  unknown: 'Something went wrong. Please try again.',
};

// Which field an error code of the registration contract belongs beside.
const REGISTER_FIELDS = {
  invalid_username: 'username',
  invalid_email: 'email',
  weak_password: 'password',
  account_exists: 'username',
};

// Worded as the server words it for the no-script form.
function tooManyAttempts(secs) {
  return `Too many attempts. Please wait ${secs} ${secs === 1 ? 'second' : 'seconds'} before trying again.`;
}

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) + '.' : '';
}

// One call to our API. Never throws: a network failure is status 0.
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, code: 'network', data: null };
  }
  let data = null;
  if ((response.headers.get('Content-Type') || '').includes('json')) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  return {
    ok: response.ok,
    status: response.status,
    code: data && data.code,
    detail: data && data.detail,
    retryAfter: Number.isFinite(retry) && retry > 0 ? retry : 1,
    data,
  };
}

function messageFor(result) {
  if (result.status === 0) return MESSAGES.network;
  if (result.code === 'too_many_attempts') return tooManyAttempts(result.retryAfter);
  if (result.status >= 500) return MESSAGES.unavailable;
  return MESSAGES[result.code] || sentence(result.detail) || MESSAGES.unknown;
}

// ---- showing errors and status -------------------------------------------

function clearErrors(form) {
  const box = document.getElementById('form-error');
  if (box) { box.hidden = true; box.textContent = ''; }
  for (const slot of form.querySelectorAll('.field-error')) { slot.hidden = true; slot.textContent = ''; }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

function showFormError(message) {
  const box = document.getElementById('form-error');
  if (box) { box.textContent = message; box.hidden = false; }
}

function showFieldError(id, message) {
  const input = document.getElementById(id);
  const slot = document.getElementById(`${id}-error`);
  if (!input || !slot) { showFormError(message); return; }
  slot.textContent = message;
  slot.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

function showStatus(message) {
  const status = document.getElementById('status');
  if (status) { status.textContent = message; status.hidden = false; }
}

// Keeps a submit button disabled for the wait the server asked for.
function holdFor(button, secs) {
  if (!button) return;
  button.dataset.hold = 'true';
  button.disabled = true;
  setTimeout(() => { delete button.dataset.hold; button.disabled = false; }, secs * 1000);
}

// The session is gone (signed out elsewhere, expired): off to sign in again.
function signedOut() {
  const here = location.pathname + location.search;
  location.assign(`/login?notice=session-ended&next=${encodeURIComponent(here)}`);
}

// ---- re-rendering ----------------------------------------------------------

// Fetches this page again and swaps in its header and main. Used after an
// action, and to recover a session that a cross-site navigation withheld: a
// same-origin fetch carries the SameSite=Strict cookies that the navigation
// did not.
async function reloadPage() {
  let response;
  try {
    response = await fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
  } catch (e) {
    return false;
  }
  if (response.redirected) { location.assign(response.url); return false; }
  if (!response.ok) return false;
  const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
  // A keyboard user whose focused control is about to be replaced (or was
  // just disabled, which drops the focus to the body) lands on the new main,
  // not at the top of the document.
  const focused = document.activeElement;
  const hadFocus = !focused || focused === document.body
    || document.querySelector('main')?.contains(focused);
  for (const selector of ['header.bar', 'main']) {
    const fresh = doc.querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) current.replaceWith(document.adoptNode(fresh));
  }
  document.title = doc.title;
  document.body.dataset.session = doc.body.dataset.session || '';
  enhance();
  if (hadFocus) document.getElementById('main')?.focus();
  return true;
}

async function confirmSession() {
  const result = await api('GET', '/api/auth/session');
  if (result.ok) {
    if (await reloadPage()) document.body.dataset.session = 'confirmed';
    return;
  }
  if (result.status === 401) {
    document.body.dataset.session = 'anonymous';
    const goto = document.body.dataset.signedOutGoto;
    if (goto) { location.replace(goto); return; }
    // Render the signed-out page properly (navigation links included); if
    // that fails, at least show what was kept hidden.
    if (await reloadPage()) return;
    for (const el of document.querySelectorAll('[data-confirming]')) el.hidden = true;
    for (const el of document.querySelectorAll('[data-anonymous]')) el.hidden = false;
    return;
  }
  for (const el of document.querySelectorAll('[data-confirming]')) el.textContent = messageFor(result);
}

// ---- forms -----------------------------------------------------------------

function value(form, name) {
  const field = form.elements.namedItem(name);
  return field ? field.value : '';
}

const FORMS = {
  async login(form, button) {
    const result = await api('POST', '/api/auth/login', {
      username: value(form, 'username'),
      password: value(form, 'password'),
    });
    const next = form.dataset.next || '/account';
    if (result.ok && result.data && result.data.mfa_required) {
      location.assign(`/login/verify?next=${encodeURIComponent(next)}`);
      return;
    }
    if (result.ok) { location.assign(next); return; }
    showFormError(messageFor(result));
    if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
    if (result.code === 'invalid_credentials') form.elements.namedItem('password').select();
  },

  mfa(form, button) { return secondFactor(form, button, { code: value(form, 'code') }); },

  'mfa-recovery'(form, button) {
    return secondFactor(form, button, { recovery_code: value(form, 'recovery_code') });
  },

  async 'totp-confirm'(form) {
    const result = await api('POST', '/api/auth/mfa/totp/confirm', { code: value(form, 'totp_code') });
    if (result.status === 401 && result.code !== 'invalid_code') { signedOut(); return; }
    if (!result.ok) { showFieldError('totp_code', messageFor(result)); return; }
    document.getElementById('totp-enrol').hidden = true;
    showRecoveryCodes(result.data.recovery_codes);
    showStatus('Two-step verification is on.');
  },

  async 'passkey-add'(form) {
    const name = value(form, 'passkey_name') || 'Passkey';
    await withRecentSignIn(async () => {
      const start = handled(await api('POST', '/api/auth/passkeys/register/start'));
      if (!start.ok) return start;
      let credential;
      try {
        credential = await navigator.credentials.create({ publicKey: publicKeyOptions(start.data) });
      } catch (e) {
        credential = null;
      }
      if (!credential) { showFieldError('passkey_name', MESSAGES.passkey_cancelled); return start; }
      const result = await api('POST', '/api/auth/passkeys/register/finish', { name, credential: credentialJson(credential) });
      if (result.status === 401) { signedOut(); return result; }
      if (!result.ok) { showFieldError('passkey_name', messageFor(result)); return result; }
      await reloadPage();
      showStatus('The passkey is added. You can sign in with it now.');
      return result;
    });
  },

  async reauth(form) {
    let body;
    if (form.dataset.with === 'passkey') {
      const start = await api('POST', '/api/auth/reauthenticate/webauthn/start');
      if (!start.ok) { showFieldError('reauth_secret', messageFor(start)); return; }
      const credential = await getAssertion(start.data);
      if (!credential) { showFieldError('reauth_secret', MESSAGES.passkey_cancelled); return; }
      body = { webauthn: credential };
    } else {
      const secret = value(form, 'reauth_secret');
      body = form.dataset.with === 'code' ? { code: secret } : { password: secret };
    }
    const result = await api('POST', '/api/auth/reauthenticate', body);
    if (result.status === 401 && result.code !== 'invalid_code' && result.code !== 'invalid_passkey') { signedOut(); return; }
    if (!result.ok) {
      showFieldError('reauth_secret', result.code === 'invalid_credentials' ? MESSAGES.wrong_current_password : messageFor(result));
      return;
    }
    form.reset();
    form.hidden = true;
    // Carry on with what asked for the confirmation.
    const pending = afterReauth;
    afterReauth = null;
    if (pending) await pending();
  },

  async register(form, button) {
    const result = await api('POST', '/api/auth/register', {
      username: value(form, 'username'),
      email: value(form, 'email'),
      password: value(form, 'password'),
    });
    if (result.ok) {
      // With require_verified_email the account is created but not signed in.
      const unverified = result.data && result.data.user && result.data.user.email_verified === false;
      if (unverified && !(await api('GET', '/api/auth/session')).ok) {
        location.assign('/login?notice=verify-email');
        return;
      }
      location.assign(form.dataset.next || '/account');
      return;
    }
    const field = REGISTER_FIELDS[result.code];
    if (field) showFieldError(field, messageFor(result));
    else showFormError(messageFor(result));
    if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
  },

  async password(form) {
    const result = await api('POST', '/api/auth/password', {
      current_password: value(form, 'current_password'),
      new_password: value(form, 'new_password'),
    });
    if (result.ok) {
      await reloadPage();
      showStatus('Password changed. Your other devices have been signed out.');
      return;
    }
    if (result.status === 401) { signedOut(); return; }
    if (result.code === 'invalid_credentials') showFieldError('current_password', MESSAGES.wrong_current_password);
    else if (result.code === 'weak_password') showFieldError('new_password', messageFor(result));
    else showFormError(messageFor(result));
  },

  async forgot(form, button) {
    const result = await api('POST', '/api/auth/password/forgot', { email: value(form, 'email') });
    if (result.ok) { form.reset(); showStatus(MESSAGES.link_sent); return; }
    showFormError(messageFor(result));
    if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
  },

  async reset(form, button) {
    const result = await api('POST', '/api/auth/password/reset', {
      token: linkToken,
      new_password: value(form, 'new_password'),
    });
    if (result.ok) { location.assign('/login?notice=password-reset'); return; }
    if (result.code === 'weak_password') { showFieldError('new_password', messageFor(result)); return; }
    if (result.code === 'invalid_token') { showLinkExpired('/forgot-password'); return; }
    showFormError(messageFor(result));
    if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
  },

  async email(form) {
    const result = await api('POST', '/api/auth/email', {
      email: value(form, 'new_email'),
      current_password: value(form, 'email_password'),
    });
    if (result.ok) {
      form.reset();
      showStatus('We have mailed a link to the new address. Your address changes when you open it.');
      return;
    }
    if (result.status === 401) { signedOut(); return; }
    if (result.code === 'invalid_credentials') showFieldError('email_password', MESSAGES.wrong_current_password);
    else if (result.code === 'invalid_email' || result.code === 'account_exists') showFieldError('new_email', messageFor(result));
    else showFormError(messageFor(result));
  },

  async logout(form) {
    const result = await api('POST', '/api/auth/logout');
    if (result.ok) { location.assign('/login?notice=signed-out'); return; }
    // Let the server explain: the same form, posted without script.
    form.submit();
  },

  async note(form) {
    const input = form.elements.namedItem('text');
    const text = input.value.trim();
    if (!text) { showFieldError('note-text', 'Write something first.'); return; }
    const result = await api('POST', '/api/notes', { text });
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok) { showFormError(messageFor(result)); return; }
    input.value = '';
    await loadNotes();
    input.focus();
  },
};

// ---- two-step verification ------------------------------------------------

async function secondFactor(form, button, body) {
  const result = await api('POST', '/api/auth/mfa/verify', body);
  if (result.ok) { location.assign(form.dataset.next || '/account'); return; }
  if (result.code === 'mfa_expired') {
    location.assign(`/login?next=${encodeURIComponent(form.dataset.next || '/account')}`);
    return;
  }
  showFormError(messageFor(result));
  if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
}

// What to do once the re-authentication form has been answered.
let afterReauth = null;

// Runs `call`; when the server wants a fresh proof of identity first, shows
// the re-authentication form and runs `call` again once it is answered.
async function withRecentSignIn(call) {
  const result = await call();
  if (result && result.code === 'reauthentication_required') {
    afterReauth = call;
    const form = document.getElementById('reauth');
    form.hidden = false;
    const secret = document.getElementById('reauth_secret');
    if (secret) secret.focus();
  }
}

function showRecoveryCodes(codes) {
  const list = document.getElementById('recovery-code-list');
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement('li');
    item.textContent = String(code);
    return item;
  }));
  document.getElementById('recovery-codes').hidden = false;
}

// The QR code comes as an SVG document from our own server; it is parsed as
// SVG, never as HTML, so that nothing in it could run.
function showQr(svgText) {
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const svg = doc.documentElement;
  const box = document.getElementById('totp-qr');
  if (svg && svg.nodeName === 'svg') {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'QR code for your authenticator app');
    box.replaceChildren(document.importNode(svg, true));
  }
}

function handled(result) {
  if (result.ok || result.code === 'reauthentication_required') return result;
  if (result.status === 401) { signedOut(); return result; }
  showFormError(messageFor(result));
  return result;
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  const handler = FORMS[form.dataset.form];
  if (!handler) return;
  event.preventDefault();
  const button = event.submitter || form.querySelector('[type=submit]');
  clearErrors(form);
  if (button) button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  handler(form, button).finally(() => {
    form.removeAttribute('aria-busy');
    if (button && !button.dataset.hold) button.disabled = false;
  });
});


// ---- passkeys --------------------------------------------------------------

// WebAuthn's binary fields travel as base64url in our JSON.
function fromB64url(text) {
  let s = String(text).replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

function toB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// The server's options without nulls (WebIDL dictionaries take a missing
// member, not null), with the binary members as buffers.
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
    return out;
  }
  return value;
}

function publicKeyOptions(options) {
  const pk = withoutNulls(options.publicKey);
  pk.challenge = fromB64url(pk.challenge);
  if (pk.user) pk.user.id = fromB64url(pk.user.id);
  for (const list of ['excludeCredentials', 'allowCredentials']) {
    if (pk[list]) pk[list] = pk[list].map((c) => ({ ...c, id: fromB64url(c.id) }));
  }
  return pk;
}

function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) response.attestationObject = toB64url(r.attestationObject);
  if (r.authenticatorData) {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type, response, extensions: {} };
}

// navigator.credentials.get with the server's options; null when the person
// cancelled or nothing answered.
async function getAssertion(options, extra) {
  try {
    const credential = await navigator.credentials.get({ publicKey: publicKeyOptions(options), ...extra });
    return credential ? credentialJson(credential) : null;
  } catch (e) {
    return null;
  }
}

// The autofill (conditional) request on the sign-in page, cancelled before a
// button asks the modal way.
let conditional = null;

async function passkeySignIn(next, extra) {
  const start = await api('POST', '/api/auth/passkeys/login/start');
  if (!start.ok) return start;
  const credential = await getAssertion(start.data.options, extra);
  if (!credential) return { ok: false, status: -1, code: 'passkey_cancelled' };
  const result = await api('POST', '/api/auth/passkeys/login/finish', {
    ceremony: start.data.ceremony,
    credential,
  });
  if (result.ok) location.assign(next);
  return result;
}

async function startConditionalSignIn() {
  const button = document.querySelector('[data-action="passkey-sign-in"]');
  if (!button || !window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
  if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
  const controller = new AbortController();
  const done = passkeySignIn(button.dataset.next || '/account', { mediation: 'conditional', signal: controller.signal })
    .then((result) => {
      if (!result.ok && result.code !== 'passkey_cancelled') showFormError(messageFor(result));
    });
  conditional = { controller, done };
}

// ---- buttons ---------------------------------------------------------------

const ACTIONS = {
  async 'passkey-sign-in'(button) {
    if (conditional) {
      conditional.controller.abort();
      await conditional.done;
      conditional = null;
    }
    const result = await passkeySignIn(button.dataset.next || '/account');
    if (!result.ok) showFormError(messageFor(result));
    if (result.code === 'too_many_attempts') holdFor(button, result.retryAfter);
  },

  async 'passkey-verify'(button) {
    const start = await api('POST', '/api/auth/mfa/webauthn/start');
    if (start.code === 'no_second_factor') { showFormError(MESSAGES.no_passkey); return; }
    if (!start.ok) { showFormError(messageFor(start)); return; }
    const credential = await getAssertion(start.data);
    if (!credential) { showFormError(MESSAGES.passkey_cancelled); return; }
    const form = document.querySelector('form[data-form="mfa"]');
    await secondFactor(form, button, { webauthn: credential });
  },

  async 'passkey-rename'(button) {
    const item = button.closest('li');
    const current = item.querySelector('.passkey-name').textContent;
    const name = window.prompt('New name for this passkey', current);
    if (name === null) return;
    await withRecentSignIn(async () => {
      const result = handled(await api('PATCH', `/api/auth/passkeys/${encodeURIComponent(button.dataset.id)}`, { name }));
      if (result.ok) { await reloadPage(); showStatus('The passkey is renamed.'); }
      return result;
    });
  },

  async 'passkey-delete'(button) {
    await withRecentSignIn(async () => {
      const result = handled(await api('DELETE', `/api/auth/passkeys/${encodeURIComponent(button.dataset.id)}`));
      if (result.ok) { await reloadPage(); showStatus('The passkey is deleted. It no longer signs you in.'); }
      return result;
    });
  },

  async 'totp-begin'() {
    await withRecentSignIn(async () => {
      const result = handled(await api('POST', '/api/auth/mfa/totp'));
      if (!result.ok) return result;
      document.getElementById('totp-secret').textContent = result.data.secret;
      showQr(result.data.qr_svg);
      document.querySelector('[data-action="totp-begin"]').hidden = true;
      document.getElementById('totp-enrol').hidden = false;
      document.getElementById('totp_code').focus();
      return result;
    });
  },

  async 'totp-off'() {
    await withRecentSignIn(async () => {
      const result = handled(await api('DELETE', '/api/auth/mfa/totp'));
      if (result.ok) { await reloadPage(); showStatus('Two-step verification is off.'); }
      return result;
    });
  },

  async 'recovery-codes'() {
    await withRecentSignIn(async () => {
      const result = handled(await api('POST', '/api/auth/mfa/recovery-codes'));
      if (result.ok) showRecoveryCodes(result.data.recovery_codes);
      return result;
    });
  },

  async reload() {
    await reloadPage();
  },

  async 'end-session'(button) {
    const result = await api('DELETE', `/api/auth/sessions/${encodeURIComponent(button.dataset.id)}`);
    if (result.ok && button.dataset.current) { location.assign('/login?notice=signed-out'); return; }
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok && result.status !== 404) { showFormError(messageFor(result)); return; }
    await reloadPage();
    showStatus('That device has been signed out.');
  },

  async 'link-provider'(button) {
    const id = encodeURIComponent(button.dataset.provider);
    const result = await api('POST', `/api/auth/oidc/${id}/link?next=/account`);
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok || !result.data || !result.data.location) { showFormError(messageFor(result)); return; }
    location.assign(result.data.location);
  },

  async 'unlink-provider'(button) {
    const id = encodeURIComponent(button.dataset.provider);
    const result = await api('DELETE', `/api/auth/oidc/${id}/link`);
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok && result.status !== 404) { showFormError(messageFor(result)); return; }
    await reloadPage();
    showStatus('The provider has been unlinked.');
  },

  async 'logout-all'() {
    const result = await api('POST', '/api/auth/logout-all');
    if (result.ok) { location.assign('/login?notice=signed-out-everywhere'); return; }
    if (result.status === 401) { signedOut(); return; }
    showFormError(messageFor(result));
  },

  async 'resend-verification'(button) {
    const result = await api('POST', '/api/auth/email/resend');
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok) { showFormError(messageFor(result)); return; }
    showStatus('A new link is on its way. It may take a minute to arrive.');
    button.hidden = true;
  },

  async 'delete-note'(button) {
    const result = await api('DELETE', `/api/notes/${encodeURIComponent(button.dataset.id)}`);
    if (result.status === 401) { signedOut(); return; }
    if (!result.ok && result.status !== 404) { showFormError(messageFor(result)); return; }
    await loadNotes();
  },
};

document.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button || !ACTIONS[button.dataset.action]) return;
  event.preventDefault();
  button.disabled = true;
  ACTIONS[button.dataset.action](button).finally(() => { button.disabled = false; });
});

// ---- notes -----------------------------------------------------------------

// The example upstream answers {"notes":[...]}; a bare array is accepted too.
function notesOf(data) {
  if (Array.isArray(data)) return data;
  return data && Array.isArray(data.notes) ? data.notes : [];
}

async function loadNotes() {
  const list = document.getElementById('notes');
  if (!list) return;
  const result = await api('GET', '/api/notes');
  if (result.status === 401) { signedOut(); return; }
  if (!result.ok) { showStatus(messageFor(result)); return; }
  const notes = notesOf(result.data);
  list.replaceChildren(...notes.map((note) => {
    const item = document.createElement('li');
    item.className = 'note';
    const text = document.createElement('span');
    text.className = 'note-text';
    text.textContent = String(note.text ?? '');
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.dataset.action = 'delete-note';
    remove.dataset.id = String(note.id);
    remove.textContent = 'Delete';
    const label = document.createElement('span');
    label.className = 'visually-hidden';
    label.textContent = ` note: ${text.textContent}`;
    remove.append(label);
    item.append(text, remove);
    return item;
  }));
  showStatus(notes.length === 0 ? 'No notes yet.' : `${notes.length} ${notes.length === 1 ? 'note' : 'notes'}.`);
}

// ---- links from mail ------------------------------------------------------

// A mailed link carries its token in the fragment, which never reaches a
// server. Take it, and drop it from the address bar and the history, so it
// is not left on screen or in a bookmark.
function takeLinkToken() {
  const match = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return match ? match[1] : '';
}

let linkToken = '';

// Says the link is dead, and where to get a new one: the forgot page for a
// reset, the account page (signed in) for a verification.
function showLinkExpired(again) {
  const box = document.getElementById('form-error');
  if (!box) return;
  const link = document.createElement('a');
  link.href = again || '/account';
  link.textContent = again ? 'Ask for a new link.' : 'Ask for a new one from your account page.';
  box.replaceChildren(MESSAGES.invalid_token + ' ', link);
  box.hidden = false;
}

async function verifyEmail(status) {
  const token = takeLinkToken();
  if (!token) { status.hidden = true; showLinkExpired(); return; }
  status.textContent = 'Confirming your address…';
  status.hidden = false;
  const result = await api('POST', '/api/auth/email/verify', { token });
  if (result.ok) {
    status.textContent = 'Your e-mail address is verified. Thank you.';
    const next = document.getElementById('verified-next');
    if (next) next.hidden = false;
    return;
  }
  status.hidden = true;
  if (result.code === 'invalid_token') showLinkExpired();
  else showFormError(messageFor(result));
}

function startLinkPages() {
  if (document.querySelector('form[data-form="reset"]')) {
    linkToken = takeLinkToken();
    if (!linkToken) showLinkExpired('/forgot-password');
  }
  const status = document.querySelector('[data-verify-email]');
  if (status) verifyEmail(status);
}

// ---- start -----------------------------------------------------------------

function enhance() {
  for (const el of document.querySelectorAll('[data-needs-script]')) el.disabled = false;
  // The server checks every field and its answer is shown beside the field;
  // the browser's own bubbles would say less, in another style, and only some.
  for (const form of document.querySelectorAll('form[data-form]')) form.noValidate = true;
  for (const time of document.querySelectorAll('time[datetime]:not([data-local])')) {
    const at = new Date(time.dateTime);
    if (Number.isNaN(at.getTime())) continue;
    time.title = time.textContent;
    time.textContent = at.toLocaleString();
    time.dataset.local = 'true';
  }
  if (document.body.dataset.session === 'signed-in') loadNotes();
}

enhance();
startLinkPages();
startConditionalSignIn();
// Another link opened in the same tab changes only the fragment.
window.addEventListener('hashchange', () => {
  if (!location.hash) return;
  clearErrors(document);
  startLinkPages();
});
if (document.body.dataset.session === 'confirm') confirmSession();
