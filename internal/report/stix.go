package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// Identifiers the STIX export uses.
const (
	// IncidentCoreExtension is the OASIS Incident Core extension v2.0
	// (draft 10.10.2023).
	IncidentCoreExtension = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
	// TLP2Extension is the extension-definition of FIRST TLP 2.0 markings.
	TLP2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
	// tlp2Created is the created time of the published TLP 2.0 markings.
	tlp2Created = "2022-10-01T00:00:00.000Z"
)

// TLPMarkings are the published STIX ids of the TLP 2.0 marking
// definitions (oasis-open/cti-stix-common-objects).
var TLPMarkings = map[incident.TLP]string{
	incident.TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	incident.TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	incident.TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	incident.TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	incident.TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

var (
	// stixNamespace is kuzet's UUIDv5 namespace for STIX ids of SDOs and
	// SROs; fixed forever, so exports of one incident keep their ids.
	stixNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/kuzet-kz/kuzet/stix"))
	// scoNamespace is STIX 2.1's namespace for Cyber Observable ids
	// (section 2.9): the id of an observable is the UUIDv5 of its
	// ID-contributing properties, so every producer gives one address the
	// same id.
	scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")
)

// sectorVocab maps kuzet's sectors to STIX's industry-sector-ov; a
// sector without a clear match is left out.
var sectorVocab = map[string]string{
	"heat_supply": "utilities", "electricity": "energy", "gas_supply": "energy", "water_supply": "water",
	"industry": "manufacturing", "healthcare": "healthcare", "communications": "telecommunications",
	"banking": "financial-services", "transport": "transportation", "hydraulic_structures": "dams",
	"law_enforcement": "government-public-services", "digital_government": "government-national",
}

type object = map[string]any

func sdoID(typ string, parts ...string) string {
	return typ + "--" + uuid.NewSHA1(stixNamespace, []byte(typ+"\x00"+strings.Join(parts, "\x00"))).String()
}

// scoID is the STIX 2.1 deterministic id of an observable of typ whose
// ID-contributing properties are props (JCS-canonical: sorted keys, no
// HTML escaping, no spaces).
func scoID(typ string, props object) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(props)
	return typ + "--" + uuid.NewSHA1(scoNamespace, bytes.TrimSuffix(b.Bytes(), []byte("\n"))).String()
}

func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// STIX renders r as a STIX 2.1 bundle (JSON):
//   - the TLP 2.0 marking definition of r.TLP, referenced by every other
//     object's object_marking_refs (never a lower one);
//   - identities of the NCC (created_by_ref of every object), the detecting
//     center and the owner (a national incident: each organisation);
//   - the incident with the Incident Core extension: determination (DOMAIN.md's
//     with _ as -), investigation_status (new, open, closed), criticality,
//     recoverability; its RSIT class and type as labels, its source TLP as
//     x_kuzet_source_tlp;
//   - the entity values as observables (ipv4-addr, ipv6-addr, domain-name,
//     file hashes, user-account), in an observed-data;
//   - a sighting of the incident where_sighted_refs the owner, with the
//     observed-data, first and last activity and the alert count;
//   - for a value marked as an indicator (Indicator.Marked), an indicator
//     with its STIX pattern and a sighting of it at the owner.
//
// Ids are UUIDv5 of the incident's id (observables: STIX's own scheme),
// times are the incident's, and the text is in r's language (lang), so
// the same incident version in the same language exports the same bytes.
func STIX(r *Report) ([]byte, error) {
	marking, ok := TLPMarkings[r.TLP]
	if !ok {
		return nil, fmt.Errorf("report: stix: no marking for TLP %q", r.TLP)
	}
	in := &r.source
	created, modified := stixTimes(r)
	marks := []string{marking}
	lang := string(r.Lang)
	var objs []object
	objs = append(objs, object{"type": "marking-definition", "spec_version": "2.1", "id": marking, "created": tlp2Created,
		"name": "TLP:" + string(r.TLP), "extensions": object{TLP2Extension: object{"extension_type": "property-extension",
			"tlp_2_0": strings.ToLower(string(r.TLP))}}})
	identity := func(key string, p Party, class string, sectors []string) object {
		o := object{"type": "identity", "spec_version": "2.1", "id": sdoID("identity", key, p.ID), "created": created,
			"modified": created, "name": p.Name, "identity_class": class, "object_marking_refs": marks, "lang": lang}
		var cs []string
		for _, c := range p.Contacts {
			parts := []string{c.Name}
			for _, s := range []string{c.Phone, c.Email} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			cs = append(cs, strings.Join(parts, ", "))
		}
		if len(cs) > 0 {
			o["contact_information"] = strings.Join(cs, "; ")
		}
		var sv []string
		for _, s := range sectors {
			if v, ok := sectorVocab[s]; ok && !slices.Contains(sv, v) {
				sv = append(sv, v)
			}
		}
		if len(sv) > 0 {
			o["sectors"] = sv
		}
		if p.BIN != "" {
			o["x_kuzet_bin"] = p.BIN
		}
		o["x_kuzet_id"] = p.ID
		return o
	}
	ncc := identity("center", r.NCC, "organization", nil)
	nccID := ncc["id"].(string)
	ncc["created_by_ref"] = nccID
	objs = append(objs, ncc)
	if r.Center != nil && r.Center.ID != r.NCC.ID {
		objs = append(objs, identity("center", *r.Center, "organization", nil))
	}
	var owners []string
	parties := r.Orgs
	if r.Reporter != nil {
		parties = []Party{*r.Reporter}
	}
	for _, p := range parties {
		o := identity("org", p, "organization", in.Sectors)
		owners = append(owners, o["id"].(string))
		objs = append(objs, o)
	}

	incID := sdoID("incident", r.ID)
	ext := object{"extension_type": "property-extension",
		"determination":        strings.ReplaceAll(string(in.Determination), "_", "-"),
		"investigation_status": in.Status.InvestigationStatus(),
		"criticality":          max(0, min(100, in.Criticality))}
	if in.Determination == "" {
		ext["determination"] = "suspected" // the draft: suspected until enough is known
	}
	if v := strings.ReplaceAll(in.Recoverability, "_", "-"); v != "" {
		ext["recoverability"] = v
	}
	inc := object{"type": "incident", "spec_version": "2.1", "id": incID, "created": created, "modified": modified,
		"created_by_ref": nccID, "name": orNone(r.Title, r.ID), "object_marking_refs": marks, "lang": lang,
		"extensions": object{IncidentCoreExtension: ext}, "x_kuzet_source_tlp": string(r.SourceTLP),
		"x_kuzet_incident_id": r.ID, "x_kuzet_status": string(in.Status)}
	if r.Description != "" {
		inc["description"] = r.Description
	}
	var labels []string
	if in.RSITClass != "" {
		l := "rsit:" + in.RSITClass
		if in.RSITType != "" {
			l += `="` + in.RSITType + `"`
		}
		labels = append(labels, l)
	}
	if in.Severity != "" {
		labels = append(labels, "kuzet:severity="+string(in.Severity))
	}
	if len(labels) > 0 {
		inc["labels"] = labels
	}
	objs = append(objs, inc)

	// Observables, once per id, sorted by id.
	scos := map[string]object{}
	var indicators []object
	for _, x := range r.Indicators {
		sco, pattern := observable(x)
		if sco == nil {
			continue
		}
		sco["spec_version"], sco["object_marking_refs"] = "2.1", marks
		scos[sco["id"].(string)] = sco
		if x.Marked {
			indicators = append(indicators, object{"type": "indicator", "spec_version": "2.1",
				"id": sdoID("indicator", r.ID, x.Field, x.Value), "created": created, "modified": modified, "created_by_ref": nccID,
				"name": x.Field + " " + x.Value, "indicator_types": []string{"malicious-activity"}, "pattern": pattern,
				"pattern_type": "stix", "valid_from": created, "object_marking_refs": marks, "lang": lang})
		}
	}
	ids := make([]string, 0, len(scos))
	for id := range scos {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		objs = append(objs, scos[id])
	}
	first, last := firstLast(in, created)
	count := max(in.AlertCount, 1)
	var observed []string
	if len(ids) > 0 {
		od := object{"type": "observed-data", "spec_version": "2.1", "id": sdoID("observed-data", r.ID), "created": created,
			"modified": modified, "created_by_ref": nccID, "first_observed": first, "last_observed": last,
			"number_observed": count, "object_refs": ids, "object_marking_refs": marks}
		objs = append(objs, od)
		observed = []string{od["id"].(string)}
	}
	objs = append(objs, indicators...)
	sighting := func(of string) object {
		s := object{"type": "sighting", "spec_version": "2.1", "id": sdoID("sighting", r.ID, of), "created": created,
			"modified": modified, "created_by_ref": nccID, "sighting_of_ref": of, "first_seen": first, "last_seen": last,
			"count": count, "object_marking_refs": marks}
		if len(owners) > 0 {
			s["where_sighted_refs"] = owners
		}
		if len(observed) > 0 {
			s["observed_data_refs"] = observed
		}
		return s
	}
	objs = append(objs, sighting(incID))
	for _, ind := range indicators {
		objs = append(objs, sighting(ind["id"].(string)))
	}
	bundle := object{"type": "bundle", "id": sdoID("bundle", r.ID, fmt.Sprint(r.Version), lang), "objects": objs}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(bundle); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// stixTimes are the created and modified times of the incident's objects:
// its detection (else its opening, its first activity, the report's time)
// and the latest instant it records (never before created).
func stixTimes(r *Report) (created, modified string) {
	in := &r.source
	c := in.DetectedAt
	for _, t := range []time.Time{in.OpenedAt, in.FirstActivityAt} {
		if c.IsZero() {
			c = t
		}
	}
	if c.IsZero() && r.GeneratedAt != nil {
		c = r.GeneratedAt.UTC
	}
	m := c
	for _, t := range timesOf(in) {
		if t.After(m) {
			m = t
		}
	}
	for _, s := range in.Stages {
		for _, t := range []time.Time{s.SentAt, s.AcknowledgedAt} {
			if t.After(m) {
				m = t
			}
		}
	}
	return stixTime(c), stixTime(m)
}

// firstLast are the sighting's first and last seen: the incident's first
// and last activity, else its creation.
func firstLast(in *incident.Incident, created string) (string, string) {
	first, last := created, created
	if !in.FirstActivityAt.IsZero() {
		first = stixTime(in.FirstActivityAt)
		last = first
	}
	if !in.LastActivityAt.IsZero() && !in.LastActivityAt.Before(in.FirstActivityAt) {
		last = stixTime(in.LastActivityAt)
	}
	return first, last
}

// observable is the STIX Cyber Observable of x and the pattern matching it,
// nil when x has no STIX type.
func observable(x Indicator) (object, string) {
	q := strings.ReplaceAll(strings.ReplaceAll(x.Value, `\`, `\\`), `'`, `\'`)
	switch x.STIXType {
	case "ipv4-addr", "ipv6-addr", "domain-name":
		v := x.Value
		if x.STIXType == "domain-name" {
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			q = strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`)
		}
		return object{"type": x.STIXType, "id": scoID(x.STIXType, object{"value": v}), "value": v},
			"[" + x.STIXType + ":value = '" + q + "']"
	case "file":
		algo := hashAlgo(strings.ToLower(x.Field))
		h := object{algo: strings.ToLower(x.Value)}
		return object{"type": "file", "id": scoID("file", object{"hashes": h}), "hashes": h},
			"[file:hashes.'" + algo + "' = '" + strings.ToLower(q) + "']"
	case "user-account":
		return object{"type": "user-account", "id": scoID("user-account", object{"account_login": x.Value}), "account_login": x.Value},
			"[user-account:account_login = '" + q + "']"
	}
	return nil, ""
}
