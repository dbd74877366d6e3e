/**
 * Signing in, three ways: log in to an account (SASL), create one (draft/account-registration: the account's name is
 * also the nick), or come as a guest with a nick. The last name used is filled in; the password never is kept.
 * The server's refusal (a wrong password, a name taken, a weak password) is shown in its own words, as an alert.
 */
import { useId, useState } from 'preact/hooks';
import type { Chat } from '../useClient.js';
import { lastIdentity } from '../storage.js';
import type { SignInMode } from '../storage.js';

const MODES: ReadonlyArray<{ readonly mode: SignInMode; readonly label: string }> = [
  { mode: 'login', label: 'Log in' },
  { mode: 'register', label: 'Create account' },
  { mode: 'guest', label: 'Guest' },
];

const SUBMIT: Readonly<Record<SignInMode, string>> = { login: 'Log in', register: 'Create account', guest: 'Join as guest' };

const LEADS: Readonly<Record<SignInMode, string>> = {
  login: 'Welcome back. Log in to pick up where you left off.',
  register: 'Create an account to keep your name, your rooms and your history on every device.',
  guest: 'Chat without an account. Your name is free for anyone else once you leave.',
};

export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="9" class="logo-bg" />
      <path class="logo-fg" d="M9 10.5A2.5 2.5 0 0 1 11.5 8h9A2.5 2.5 0 0 1 23 10.5v7a2.5 2.5 0 0 1-2.5 2.5H15l-4.2 3.4c-.5.4-1.3 0-1.3-.6V20A2.5 2.5 0 0 1 9 17.5z" />
    </svg>
  );
}

export function SignIn({ chat }: { readonly chat: Chat }) {
  const remembered = lastIdentity();
  const [mode, setMode] = useState<SignInMode>(remembered?.mode ?? 'register');
  const [name, setName] = useState(remembered?.name ?? '');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const ids = { name: useId(), password: useId(), email: useId(), hint: useId(), passwordHint: useId() };
  const connecting = chat.phase === 'connecting';
  const unreachable = connecting && chat.state?.status === 'reconnecting';
  const nameLabel = mode === 'guest' ? 'Nickname' : 'Account name';
  return (
    <main class="signin">
      <div class="signin-card">
        <div class="brand">
          <Logo />
          <h1>Natter</h1>
        </div>
        <p class="signin-lead">{LEADS[mode]}</p>
        <form
          class="form"
          aria-label={SUBMIT[mode]}
          onSubmit={(event) => {
            event.preventDefault();
            const trimmed = name.trim();
            if (trimmed === '' || connecting) return;
            chat.signIn({ mode, name: trimmed, ...(mode === 'guest' ? {} : { password }), ...(mode === 'register' && email.trim() !== '' ? { email: email.trim() } : {}) });
          }}
        >
          <fieldset class="segmented" disabled={connecting}>
            <legend class="visually-hidden">How do you want to sign in?</legend>
            {MODES.map((choice) => (
              <label key={choice.mode} class={choice.mode === mode ? 'checked' : undefined}>
                <input
                  type="radio"
                  name="mode"
                  value={choice.mode}
                  checked={choice.mode === mode}
                  onChange={() => {
                    setMode(choice.mode);
                  }}
                />
                <span>{choice.label}</span>
              </label>
            ))}
          </fieldset>
          <div class="field">
            <label for={ids.name}>{nameLabel}</label>
            <input
              id={ids.name}
              name="username"
              value={name}
              required
              maxLength={32}
              autocomplete={mode === 'guest' ? 'nickname' : 'username'}
              autocapitalize="none"
              spellcheck={false}
              aria-describedby={mode === 'login' ? undefined : ids.hint}
              disabled={connecting}
              onInput={(event) => {
                setName(event.currentTarget.value);
              }}
            />
            {mode !== 'login' && (
              <p id={ids.hint} class="field-hint">
                {mode === 'register' ? 'Also your nick: letters, digits and _-[]{}^|, not starting with a digit.' : 'Letters, digits and _-[]{}^|, not starting with a digit.'}
              </p>
            )}
          </div>
          {mode !== 'guest' && (
            <div class="field">
              <label for={ids.password}>Password</label>
              <input
                id={ids.password}
                type="password"
                name="password"
                value={password}
                required
                autocomplete={mode === 'register' ? 'new-password' : 'current-password'}
                aria-describedby={mode === 'register' ? ids.passwordHint : undefined}
                disabled={connecting}
                onInput={(event) => {
                  setPassword(event.currentTarget.value);
                }}
              />
              {mode === 'register' && (
                <p id={ids.passwordHint} class="field-hint">
                  At least 8 characters.
                </p>
              )}
            </div>
          )}
          {mode === 'register' && (
            <div class="field">
              <label for={ids.email}>
                Email <span class="optional">(optional)</span>
              </label>
              <input
                id={ids.email}
                type="email"
                name="email"
                value={email}
                autocomplete="email"
                disabled={connecting}
                onInput={(event) => {
                  setEmail(event.currentTarget.value);
                }}
              />
            </div>
          )}
          {chat.error !== undefined && !connecting && (
            <p role="alert" class="form-error">
              {chat.error}
            </p>
          )}
          {unreachable && (
            <p role="status" class="form-note">
              Cannot reach the server. Trying again…
            </p>
          )}
          <button type="submit" class="button button-primary button-block" disabled={connecting}>
            {connecting ? 'Connecting…' : SUBMIT[mode]}
          </button>
          {connecting && (
            <button type="button" class="button button-ghost button-block" onClick={chat.signOut}>
              Cancel
            </button>
          )}
        </form>
      </div>
    </main>
  );
}
