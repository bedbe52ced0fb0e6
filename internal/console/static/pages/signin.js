// signin.js: sign-in with an API key, kept in memory only.
import { h } from '../dom.js';
import { field, heading } from '../ui.js';
import { signIn, SignInError } from '../session.js';

const ENDED = { expired: 'signin.expired', idle: 'signin.idle', rejected: 'signin.rejected', signedout: 'signin.signedout' };

export function render(main, ctx) {
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true });
  const msg = h('div', { class: 'messages' });
  if (ENDED[ctx.reason]) {
    msg.append(h('p', { class: 'notice', role: 'status', i18n: ENDED[ctx.reason] }));
  }
  const submit = h('button', { type: 'submit', i18n: 'signin.submit' });
  const form = h('form', { class: ['card', 'narrow'], novalidate: true },
    field('signin.key', input, 'signin.note'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    msg.replaceChildren();
    try {
      await signIn(input.value);
      input.value = '';
      ctx.done();
    } catch (err) {
      const code = err instanceof SignInError ? err.code : 'signin.failed';
      msg.append(h('p', { class: ['notice', 'error'], role: 'alert', i18n: code }));
      submit.disabled = false;
      input.focus();
    }
  });
  main.append(heading('signin.title'), msg, form);
  setTimeout(() => input.focus(), 0);
  return null;
}
