package dashboards

import "github.com/kuzet-kz/kuzet/internal/registry"

// All returns every dashboard, in the order of their files.
func All() []Dashboard {
	return []Dashboard{National(), OISC(), Notifications(), Pipeline()}
}

// sectorVar is the sector filter: the twelve sectors' machine ids (the
// values every table and API filter uses), shown with their English names.
func sectorVar() Variable {
	v := Variable{Name: "sector", Label: "Sector", Multi: true, IncludeAll: true}
	for _, s := range registry.Sectors {
		v.Options = append(v.Options, Option{Text: s.NameEN, Value: s.ID})
	}
	return v
}

// bucket5m is a time series bucket over a five-minute rollup: the panel's
// interval, at least the rollup's five minutes.
const bucket5m = "toDateTime(intDiv(toUInt32(bucket), greatest($__interval_s, 300)) * greatest($__interval_s, 300)) AS time"

// bucket1h is bucket5m for an hourly rollup.
const bucket1h = "toDateTime(intDiv(toUInt32(bucket), greatest($__interval_s, 3600)) * greatest($__interval_s, 3600)) AS time"

// National is the NCC's national overview.
func National() Dashboard {
	return Dashboard{
		UID: "kuzet-national", Title: "kuzet: national overview", File: "kuzet-national.json",
		Description: "Incidents by sector, severity, RSIT category and over time; events and alerts from the rollups; " +
			"entities seen across organisations; national incidents. For NCC staff: it reads every organisation " +
			"(TLP:RED incidents are left out of the lists).",
		From: "now-7d", Refresh: "5m",
		Variables: []Variable{sectorVar()},
		Panels: []Panel{
			{Title: "Incidents by sector", Type: "barchart", W: 8, SQL: &SQL{Columns: []string{"sector", "incidents"}, Query: `
				SELECT sector, count() AS incidents
				FROM (
					SELECT arrayJoin(sectors) AS sector
					FROM incidents FINAL
					WHERE $__timeFilter(detected_at) AND national = 0
				)
				WHERE sector IN (${sector:singlequote})
				GROUP BY sector
				ORDER BY incidents DESC`}},
			{Title: "Incidents by severity", Type: "piechart", W: 8, SQL: &SQL{Columns: []string{"severity", "incidents"}, Query: `
				SELECT severity, count() AS incidents
				FROM incidents FINAL
				WHERE $__timeFilter(detected_at) AND national = 0 AND hasAny(sectors, [${sector:singlequote}])
				GROUP BY severity
				ORDER BY incidents DESC`}},
			{Title: "Incidents by RSIT category", Type: "barchart", W: 8, SQL: &SQL{Columns: []string{"category", "incidents"}, Query: `
				SELECT rsit_class AS category, count() AS incidents
				FROM incidents FINAL
				WHERE $__timeFilter(detected_at) AND national = 0 AND hasAny(sectors, [${sector:singlequote}])
				GROUP BY category
				ORDER BY incidents DESC`}},
			{Title: "Incidents over time by severity", Type: "timeseries", W: 12, SQL: &SQL{Columns: []string{"time", "severity", "incidents"}, Query: `
				SELECT toDateTime(intDiv(toUInt32(detected_at), $__interval_s) * $__interval_s) AS time, severity, count() AS incidents
				FROM incidents FINAL
				WHERE $__timeFilter(detected_at) AND national = 0 AND hasAny(sectors, [${sector:singlequote}])
				GROUP BY time, severity
				ORDER BY time`}},
			{Title: "Events by sector (rollup)", Type: "timeseries", W: 12, SQL: &SQL{Columns: []string{"time", "sector", "event_count"}, Query: `
				SELECT ` + bucket5m + `, sector, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket) AND sector IN (${sector:singlequote})
				GROUP BY time, sector
				ORDER BY time`}},
			{Title: "Alerts by level (rollup)", Type: "timeseries", W: 12, SQL: &SQL{Columns: []string{"time", "level", "alert_count"}, Query: `
				SELECT ` + bucket1h + `, level, uniqMerge(alerts) AS alert_count
				FROM alerts_1h
				WHERE $__timeFilter(bucket) AND sector IN (${sector:singlequote})
				GROUP BY time, level
				ORDER BY time`}},
			{Title: "Alerts and events now", Type: "timeseries", W: 12, Unit: "ops", Prom: []Prom{
				{"sum by (level) (rate(kuzet_ncc_alerts_total[5m]))", "alerts {{level}}"},
				{"sum(rate(kuzet_ncc_events_stored_total[5m]))", "events stored"},
			}},
			{Title: "Entities seen across organisations", Type: "table", W: 24, H: 10,
				Description: "Entity values (source IP, user, host) in the alerts of two or more organisations in the range, from the daily rollup.",
				SQL: &SQL{Columns: []string{"field", "value", "organisations", "sectors_seen", "alert_count", "last_seen_at"}, Query: `
				SELECT field, value, uniqExact(org) AS organisations, arrayStringConcat(groupUniqArray(sector), ', ') AS sectors_seen,
					uniqMerge(alerts) AS alert_count, maxMerge(last_seen) AS last_seen_at
				FROM alert_entities_1d
				WHERE day >= toDate($__fromTime) AND day <= toDate($__toTime) AND sector IN (${sector:singlequote})
				GROUP BY field, value
				HAVING organisations >= 2
				ORDER BY organisations DESC, alert_count DESC
				LIMIT 100`}},
			{Title: "National incidents", Type: "table", W: 24, H: 10,
				Description: "Incidents the national stage opened over local incidents of several organisations or sectors.",
				SQL: &SQL{Columns: []string{"detected_at", "title", "status", "severity", "category", "organisations", "sectors_hit", "local_incidents", "id"}, Query: `
				SELECT detected_at, title, status, severity, rsit_class AS category, length(orgs) AS organisations,
					arrayStringConcat(sectors, ', ') AS sectors_hit, length(linked) AS local_incidents, toString(incident_id) AS id
				FROM incidents FINAL
				WHERE national = 1 AND tlp != 'RED' AND $__timeFilter(detected_at) AND hasAny(sectors, [${sector:singlequote}])
				ORDER BY detected_at DESC
				LIMIT 100`}},
		},
	}
}

// OISC is one operations center's view.
func OISC() Dashboard {
	return Dashboard{
		UID: "kuzet-oisc", Title: "kuzet: OISC view", File: "kuzet-oisc.json",
		Description: "One OISC: its collectors' events, its alerts and open incidents. The Prometheus panels " +
			"need the oisc and collector target labels (deploy/prometheus/prometheus.yml).",
		From: "now-24h", Refresh: "1m",
		Variables: []Variable{
			{Name: "oisc", Label: "OISC", Query: "SELECT DISTINCT oisc FROM events_5m WHERE bucket >= $__fromTime ORDER BY oisc"},
			sectorVar(),
		},
		Panels: []Panel{
			{Title: "Events by collector (rollup)", Type: "timeseries", SQL: &SQL{Columns: []string{"time", "collector", "event_count"}, Query: `
				SELECT ` + bucket5m + `, collector, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket) AND oisc IN (${oisc:singlequote}) AND sector IN (${sector:singlequote})
				GROUP BY time, collector
				ORDER BY time`}},
			{Title: "Events by source type (rollup)", Type: "timeseries", SQL: &SQL{Columns: []string{"time", "source_type", "event_count"}, Query: `
				SELECT ` + bucket5m + `, source_type, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket) AND oisc IN (${oisc:singlequote}) AND sector IN (${sector:singlequote})
				GROUP BY time, source_type
				ORDER BY time`}},
			{Title: "Events accepted / s by collector", Type: "timeseries", Unit: "ops", Prom: []Prom{
				{`sum by (collector) (rate(kuzet_collector_events_accepted_total{oisc=~"$oisc"}[5m]))`, "{{collector}}"},
			}},
			{Title: "Records rejected / s by reason", Type: "timeseries", Unit: "ops", Prom: []Prom{
				{`sum by (collector, reason) (rate(kuzet_collector_records_rejected_total{oisc=~"$oisc"}[5m]))`, "{{collector}} {{reason}}"},
			}},
			{Title: "Events by organisation and sector", Type: "table", W: 8, SQL: &SQL{Columns: []string{"org", "sector", "event_count"}, Query: `
				SELECT org, sector, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket) AND oisc IN (${oisc:singlequote}) AND sector IN (${sector:singlequote})
				GROUP BY org, sector
				ORDER BY event_count DESC
				LIMIT 100`}},
			{Title: "Top alert rules", Type: "table", W: 16, SQL: &SQL{Columns: []string{"rule_id", "title", "level", "alert_count", "organisations"}, Query: `
				SELECT rule_id, anyMerge(rule_title) AS title, level, uniqMerge(alerts) AS alert_count, uniqExact(org) AS organisations
				FROM alerts_1h
				WHERE $__timeFilter(bucket) AND oisc IN (${oisc:singlequote}) AND sector IN (${sector:singlequote})
				GROUP BY rule_id, level
				ORDER BY alert_count DESC
				LIMIT 50`}},
			{Title: "Open incidents", Type: "table", W: 16, H: 10,
				Description: "Incidents of this OISC not yet resolved or closed, whatever the range (TLP:RED left out).",
				SQL: &SQL{Columns: []string{"detected_at", "title", "org", "status", "severity", "category", "alerts", "id"}, Query: `
				SELECT detected_at, title, org, status, severity, rsit_class AS category, alert_count AS alerts, toString(incident_id) AS id
				FROM incidents FINAL
				WHERE oisc IN (${oisc:singlequote}) AND status NOT IN ('resolved', 'closed') AND tlp != 'RED'
					AND hasAny(sectors, [${sector:singlequote}])
				ORDER BY detected_at DESC
				LIMIT 200`}},
			{Title: "Incidents by status", Type: "piechart", W: 8, H: 10, SQL: &SQL{Columns: []string{"status", "incidents"}, Query: `
				SELECT status, count() AS incidents
				FROM incidents FINAL
				WHERE $__timeFilter(detected_at) AND oisc IN (${oisc:singlequote}) AND hasAny(sectors, [${sector:singlequote}])
				GROUP BY status
				ORDER BY incidents DESC`}},
		},
	}
}

// stageFilter selects the stages of the chosen regimes and sectors.
const stageFilter = "regime IN (${regime:singlequote}) AND hasAny(sectors, [${sector:singlequote}])"

// overdue is a pending stage past its due time (the epoch: no clock).
const overdue = "status = 'pending' AND toUInt32(due_at) > 0 AND due_at < now()"

// Notifications is notification timeliness per regime stage.
func Notifications() Dashboard {
	return Dashboard{
		UID: "kuzet-notifications", Title: "kuzet: notification timeliness", File: "kuzet-notifications.json",
		Description: "Notification stages due in the range, per regime and stage: sent on time, late, overdue now, " +
			"pending; the stages overdue now; the delivery log.",
		From: "now-30d", Refresh: "5m",
		Variables: []Variable{
			{Name: "regime", Label: "Regime", Multi: true, IncludeAll: true, Query: "SELECT DISTINCT regime FROM incident_stages ORDER BY regime"},
			sectorVar(),
		},
		Panels: []Panel{
			{Title: "Stages due in the range by regime and stage", Type: "table", W: 24,
				SQL: &SQL{Columns: []string{"regime", "stage", "stages", "on_time", "late", "overdue", "pending", "waived", "superseded", "mean_minutes_after_due"}, Query: `
				SELECT regime, stage, count() AS stages, countIf(status = 'sent') AS on_time, countIf(status = 'late') AS late,
					countIf(` + overdue + `) AS overdue,
					countIf(status = 'pending' AND NOT (` + overdue + `)) AS pending,
					countIf(status = 'waived') AS waived, countIf(status = 'superseded') AS superseded,
					round(avgIf((toInt64(sent_at) - toInt64(due_at)) / 60, status IN ('sent', 'late')), 1) AS mean_minutes_after_due
				FROM incident_stages FINAL
				WHERE $__timeFilter(due_at) AND ` + stageFilter + `
				GROUP BY regime, stage
				ORDER BY regime, stage`}},
			{Title: "Stages by due day and outcome", Type: "timeseries", SQL: &SQL{Columns: []string{"time", "outcome", "stages"}, Query: `
				SELECT toStartOfDay(due_at) AS time, if(` + overdue + `, 'overdue', status) AS outcome, count() AS stages
				FROM incident_stages FINAL
				WHERE $__timeFilter(due_at) AND ` + stageFilter + `
				GROUP BY time, outcome
				ORDER BY time`}},
			{Title: "Late and overdue per regime stage", Type: "barchart", SQL: &SQL{Columns: []string{"regime_stage", "late", "overdue"}, Query: `
				SELECT concat(regime, ' / ', stage) AS regime_stage, countIf(status = 'late') AS late, countIf(` + overdue + `) AS overdue
				FROM incident_stages FINAL
				WHERE $__timeFilter(due_at) AND ` + stageFilter + `
				GROUP BY regime_stage
				ORDER BY regime_stage`}},
			{Title: "Stages overdue now", Type: "table", W: 24, H: 10,
				Description: "Pending stages past due, whatever the range, oldest first (titles of TLP:RED incidents withheld).",
				SQL: &SQL{Columns: []string{"regime", "stage", "due_at", "hours_overdue", "title", "org", "severity", "id"}, Query: `
				SELECT regime, stage, due_at, round((toUInt32(now()) - toUInt32(due_at)) / 3600, 1) AS hours_overdue,
					title, org, severity, toString(incident_id) AS id
				FROM (
					SELECT incident_id, regime, stage, due_at
					FROM incident_stages FINAL
					WHERE ` + overdue + ` AND ` + stageFilter + `
				)
				ANY LEFT JOIN (
					SELECT incident_id, title, org, severity
					FROM incidents FINAL
					WHERE tlp != 'RED'
				) USING incident_id
				ORDER BY due_at
				LIMIT 200`}},
			{Title: "Delivery log by outcome", Type: "timeseries", SQL: &SQL{Columns: []string{"time", "outcome", "entries"}, Query: `
				SELECT toDateTime(intDiv(toUInt32(at), $__interval_s) * $__interval_s) AS time, outcome, uniqExact(entry_id) AS entries
				FROM notification_log
				WHERE $__timeFilter(at) AND regime IN (${regime:singlequote})
				GROUP BY time, outcome
				ORDER BY time`}},
			{Title: "Overdue stages and deliveries now (ncc)", Type: "timeseries", Prom: []Prom{
				{"sum by (regime, stage) (kuzet_notification_stages_overdue)", "overdue {{regime}} {{stage}}"},
				{"sum by (regime, stage) (increase(kuzet_notification_overdue_total[1h]))", "found overdue / h {{regime}} {{stage}}"},
				{"sum(rate(kuzet_notifications_sent_total[5m]))", "sent / s"},
				{"sum(rate(kuzet_notification_attempts_failed_total[5m]))", "failed attempts / s"},
			}},
		},
	}
}

// Pipeline is the pipeline's health, per collector.
func Pipeline() Dashboard {
	return Dashboard{
		UID: "kuzet-pipeline", Title: "kuzet: pipeline health", File: "kuzet-pipeline.json",
		Description: "Ingest, rejects, publishing, consumer lag, ClickHouse inserts, readiness, per collector. Series of " +
			"several collectors differ by their collector label (a target label, or the one kuzet run sets).",
		From: "now-6h", Refresh: "30s",
		Panels: []Panel{
			{Title: "Readiness (/readyz, blackbox probe) and scrape up", Type: "timeseries", W: 24, H: 6, Prom: []Prom{
				{`min by (instance) (probe_success{job="kuzet-readyz"})`, "ready {{instance}}"},
				{`min by (job, instance) (up{job=~"kuzet-.*"})`, "up {{job}} {{instance}}"},
			}},
			{Title: "Ingest: events accepted / s by collector", Unit: "ops", Type: "timeseries", Prom: []Prom{
				{"sum by (collector) (rate(kuzet_collector_events_accepted_total[5m]))", "{{collector}}"},
			}},
			{Title: "Rejects / s by reason", Unit: "ops", Type: "timeseries", Prom: []Prom{
				{"sum by (collector, reason) (rate(kuzet_collector_records_rejected_total[5m]))", "{{collector}} {{reason}}"},
				{"sum by (reason) (rate(kuzet_ncc_rejected_total[5m]))", "ncc {{reason}}"},
			}},
			{Title: "Published / s and publish retries by collector", Unit: "ops", Type: "timeseries", Prom: []Prom{
				{"sum by (collector) (rate(kuzet_collector_events_published_total[5m]))", "published {{collector}}"},
				{"sum by (collector) (rate(kuzet_collector_publish_retries_total[5m]))", "retries {{collector}}"},
			}},
			{Title: "Publish latency p95 by collector", Unit: "s", Type: "timeseries", Prom: []Prom{
				{"histogram_quantile(0.95, sum by (collector, le) (rate(kuzet_collector_publish_seconds_bucket[5m])))", "{{collector}}"},
			}},
			{Title: "Spool, queue and site buffer by collector", Unit: "bytes", Type: "timeseries", Prom: []Prom{
				{"sum by (collector) (kuzet_collector_spool_bytes)", "spool {{collector}}"},
				{"sum by (collector) (kuzet_collector_site_buffered_bytes)", "site buffer {{collector}}"},
			}},
			{Title: "Oldest envelope in the site buffer", Unit: "s", Type: "timeseries", Prom: []Prom{
				{"max by (collector) (kuzet_collector_site_oldest_buffered_seconds)", "{{collector}}"},
			}},
			{Title: "NCC consumer lag", Type: "timeseries", Prom: []Prom{
				{"sum(kuzet_ncc_consumer_pending_messages)", "pending (lag)"},
				{"sum(kuzet_ncc_consumer_ack_pending_messages)", "ack pending"},
			}},
			{Title: "NCC events stored / s", Unit: "ops", Type: "timeseries", Prom: []Prom{
				{"sum(rate(kuzet_ncc_events_stored_total[5m]))", "stored"},
				{"sum(rate(kuzet_ncc_events_received_total[5m]))", "received"},
				{"sum(rate(kuzet_ncc_batches_redelivered_total[5m]))", "batches redelivered"},
			}},
			{Title: "ClickHouse insert latency", Unit: "s", Type: "timeseries", Prom: []Prom{
				{"histogram_quantile(0.5, sum by (le) (rate(kuzet_ncc_insert_seconds_bucket[5m])))", "p50"},
				{"histogram_quantile(0.95, sum by (le) (rate(kuzet_ncc_insert_seconds_bucket[5m])))", "p95"},
				{"histogram_quantile(0.95, sum by (le) (rate(kuzet_ncc_event_latency_seconds_bucket[5m])))", "end to end p95"},
			}},
			{Title: "ClickHouse inserts failing", Type: "timeseries", Prom: []Prom{
				{"sum(rate(kuzet_ncc_insert_errors_total[5m]))", "insert errors / s"},
				{"min(kuzet_ncc_store_up)", "store up"},
			}},
			{Title: "API requests / s by code", Unit: "ops", Type: "timeseries", Prom: []Prom{
				{"sum by (code) (rate(kuzet_api_requests_total[5m]))", "{{code}}"},
			}},
			{Title: "Events stored by collector (ClickHouse rollup)", Type: "timeseries", SQL: &SQL{Columns: []string{"time", "collector", "event_count"}, Query: `
				SELECT ` + bucket5m + `, collector, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket)
				GROUP BY time, collector
				ORDER BY time`}},
			{Title: "Last stored events per collector", Type: "table", W: 24,
				Description: "Collectors by the last five minutes they had events stored in, oldest first: a silent collector is at the top.",
				SQL: &SQL{Columns: []string{"oisc", "collector", "last_bucket", "event_count"}, Query: `
				SELECT oisc, collector, max(bucket) AS last_bucket, uniqMerge(events) AS event_count
				FROM events_5m
				WHERE $__timeFilter(bucket)
				GROUP BY oisc, collector
				ORDER BY last_bucket`}},
		},
	}
}
