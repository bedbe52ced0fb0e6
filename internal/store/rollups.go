package store

// rollupsMigration adds the rollups that dashboards read over long ranges
// instead of the raw events and alerts: AggregatingMergeTree tables fed by
// materialized views at insert time.
//
// Counts are uniqState of the row's id, so a redelivered batch (the same
// ids inserted again) does not count twice, and merging buckets (five
// minutes into hours or days) stays correct; uniq is exact for small sets
// and within about 1% above tens of thousands. Rollups start empty: rows
// stored before the migration are not in them (the README shows the
// idempotent backfill). Every statement runs on ClickHouse 18.16.
//
//   - events_5m: events per five minutes (received_at) by OISC, collector,
//     sector, organisation and source type.
//   - alerts_1h: alert shares per hour (received_at) by OISC, organisation,
//     sector, level and rule.
//   - alert_entities_1d: per day, the entity values alerts carry (source.ip,
//     user.name, host.name) by organisation and sector, for the entities seen
//     across organisations.
var rollupsMigration = migration{15, "dashboard rollups", []string{
	`CREATE TABLE IF NOT EXISTS {db}.events_5m (
			bucket DateTime,
			oisc String,
			collector String,
			sector String,
			org String,
			source_type String,
			events AggregateFunction(uniq, UUID)
		) ENGINE = AggregatingMergeTree
		PARTITION BY toYYYYMM(bucket)
		ORDER BY (bucket, oisc, collector, sector, org, source_type)`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_5m_mv TO {db}.events_5m AS
		SELECT toStartOfFiveMinute(received_at) AS bucket, oisc, collector, sector, org, source_type,
			uniqState(event_id) AS events
		FROM {db}.events
		GROUP BY bucket, oisc, collector, sector, org, source_type`,
	`CREATE TABLE IF NOT EXISTS {db}.alerts_1h (
			bucket DateTime,
			oisc String,
			org String,
			sector String,
			level String,
			rule_id String,
			rule_title AggregateFunction(any, String),
			alerts AggregateFunction(uniq, UUID)
		) ENGINE = AggregatingMergeTree
		PARTITION BY toYYYYMM(bucket)
		ORDER BY (bucket, oisc, org, sector, level, rule_id)`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alerts_1h_mv TO {db}.alerts_1h AS
		SELECT toStartOfHour(received_at) AS bucket, oisc, org, sector, level, rule_id,
			anyState(rule_title) AS rule_title, uniqState(alert_id) AS alerts
		FROM {db}.alerts
		GROUP BY bucket, oisc, org, sector, level, rule_id`,
	`CREATE TABLE IF NOT EXISTS {db}.alert_entities_1d (
			day Date,
			field String,
			value String,
			org String,
			sector String,
			alerts AggregateFunction(uniq, UUID),
			last_seen AggregateFunction(max, DateTime)
		) ENGINE = AggregatingMergeTree
		PARTITION BY toYYYYMM(day)
		ORDER BY (day, field, value, org, sector)`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alert_entities_1d_mv TO {db}.alert_entities_1d AS
		SELECT toDate(received_at) AS day, entity.1 AS field, entity.2 AS value, org, sector,
			uniqState(alert_id) AS alerts, maxState(received_at) AS last_seen
		FROM {db}.alerts
		ARRAY JOIN [('source.ip', source_ip), ('user.name', user_name), ('host.name', host_name)] AS entity
		WHERE value != ''
		GROUP BY day, field, value, org, sector`,
}, nil, nil}

func init() { migrations = append(migrations, rollupsMigration) }
