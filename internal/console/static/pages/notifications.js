// notifications.js: the notifications the caller's center or organisation
// received (GET /api/v1/notifications), acknowledged from here (POST
// /api/v1/notifications/{id}/ack).
import { h, timeEl } from '../dom.js';
import { call, get } from '../api.js';
import { errorBox, table, heading } from '../ui.js';

export function render(main) {
  const body = h('div', { id: 'notifications' }, h('p', { i18n: 'loading' }));
  const notices = h('div', {});
  main.append(heading('notifications.title'), notices, body);
  let live = true;

  async function ack(n, button) {
    button.disabled = true;
    try {
      await call('POST', '/api/v1/notifications/' + encodeURIComponent(n.notification_id) + '/ack');
      const cell = button.parentElement;
      cell.replaceChildren(h('span', { class: ['badge', 'stage-sent'], i18n: 'notifications.acked' }));
    } catch (err) {
      button.disabled = false;
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    }
  }

  async function load() {
    try {
      const r = await get('/api/v1/notifications');
      if (!live) {
        return;
      }
      const list = r.data.notifications || [];
      if (!list.length) {
        body.replaceChildren(h('p', { class: 'empty', i18n: 'notifications.empty' }));
        return;
      }
      body.replaceChildren(table('notifications.title',
        ['notifications.col.sent', 'notifications.col.incident', 'notifications.col.regime', 'notifications.col.stage', 'notifications.col.channel', 'notifications.col.acknowledged'],
        list.map((n) => {
          let acked;
          if (n.acknowledged_at) {
            acked = timeEl(n.acknowledged_at);
          } else {
            const b = h('button', { type: 'button', class: 'small', i18n: 'notifications.ack' });
            b.addEventListener('click', () => ack(n, b));
            acked = b;
          }
          return [timeEl(n.sent_at), h('a', { href: '#/incidents/' + encodeURIComponent(n.incident_id) }, h('code', { text: n.incident_id.slice(0, 8) })),
            h('code', { text: n.regime }), n.stage, n.channel, acked];
        })));
    } catch (err) {
      if (live && err.status !== 401) {
        body.replaceChildren(errorBox(err));
      }
    }
  }
  load();
  return () => {
    live = false;
  };
}
