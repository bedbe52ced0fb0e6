// home.js: the landing page of roles the console has no pages for yet.
import { heading } from '../ui.js';
import { h } from '../dom.js';

export function render(main, ctx) {
  main.append(heading('home.title'), h('p', { class: 'notice', i18n: ['home.none', { role: ctx.principal.role }] }));
  return null;
}
