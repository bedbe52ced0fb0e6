// model.js: the machine values of the API that the console offers (the
// labels are in the catalogues, keyed by these values).

export const STATUSES = ['new', 'triage', 'in_progress', 'contained', 'resolved', 'closed'];
export const SEVERITIES = ['none', 'low', 'moderate', 'high', 'critical'];
export const RESOLUTIONS = ['handled', 'false_positive', 'duplicate', 'benign'];
export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
export const TLPS = ['clear', 'green', 'amber', 'amber+strict', 'red'];
// TRIAGES are an alert share's triage statuses (store.TriageStatuses).
export const TRIAGES = ['new', 'acknowledged', 'true_positive', 'false_positive'];
// ROLES are the roles a key may have (access.Roles).
export const ROLES = ['ncc-analyst', 'oisc-analyst', 'sector-analyst', 'owner', 'regulator', 'admin'];
export const IMPACTS = ['none', 'low', 'medium', 'high'];

// NEXT lists, for each status, where the state machine lets an analyst
// move an incident (internal/incident/lifecycle.go).
export const NEXT = {
  new: ['triage'],
  triage: ['in_progress'],
  in_progress: ['contained'],
  contained: ['resolved'],
  resolved: ['closed'],
  closed: ['in_progress'],
};

// RSIT is the Reference Security Incident Taxonomy (machine values):
// class to its types (internal/incident ValidRSIT; a test checks them).
export const RSIT = {
  'abusive-content': ['spam', 'harmful-speech', 'violence'],
  'malicious-code': ['infected-system', 'c2-server', 'malware-distribution', 'malware-configuration'],
  'information-gathering': ['scanner', 'sniffing', 'social-engineering'],
  'intrusion-attempts': ['ids-alert', 'brute-force', 'exploit'],
  intrusions: ['privileged-account-compromise', 'unprivileged-account-compromise', 'application-compromise', 'system-compromise', 'burglary'],
  availability: ['dos', 'ddos', 'misconfiguration', 'sabotage', 'outage'],
  'information-content-security': ['unauthorised-information-access', 'unauthorised-information-modification', 'data-loss', 'data-leak'],
  fraud: ['unauthorised-use-of-resources', 'copyright', 'masquerade', 'phishing'],
  vulnerable: ['weak-crypto', 'ddos-amplifier', 'potentially-unwanted-accessible', 'information-disclosure', 'vulnerable-system'],
  other: ['other', 'undetermined'],
  test: ['test'],
};

// nextDue is the earliest due_at of an incident's pending stages, or ''.
export function nextDue(inc) {
  let best = '';
  for (const s of (inc && inc.stages) || []) {
    if (s.status === 'pending' && s.due_at && (!best || Date.parse(s.due_at) < Date.parse(best))) {
      best = s.due_at;
    }
  }
  return best;
}

// Roles and what the console offers each (the API decides what they may
// really do).
export const READERS = ['ncc-analyst', 'oisc-analyst', 'sector-analyst', 'owner'];
export const REPORTERS = ['ncc-analyst', 'oisc-analyst', 'owner'];
export const RECIPIENTS = ['ncc-analyst', 'oisc-analyst', 'sector-analyst', 'owner'];
export const DECLARERS = ['ncc-analyst', 'oisc-analyst'];
// CHANGERS change an incident's status and assignee; sector analysts and
// owners comment and keep tasks.
export const CHANGERS = ['ncc-analyst', 'oisc-analyst'];
// DETERMINATIONS are an incident's determinations.
export const DETERMINATIONS = ['suspected', 'confirmed', 'false_positive', 'blocked', 'failed_attempt'];
