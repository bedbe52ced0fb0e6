// Package dashboards defines kuzet's Grafana dashboards in Go and renders
// them to the JSON files in dashboards/ that Grafana provisions from
// dashboards/provisioning. The committed files are generated: a test fails
// when they drift from the definitions here (regenerate with
// `go test ./internal/dashboards -run TestGenerated -update`).
//
// Two data sources, with fixed uids the provisioning files declare:
// ClickHouse through grafana-clickhouse-datasource and a read-only user
// ([ClickHouseUID]), and Prometheus ([PrometheusUID]). ClickHouse panels
// are SQL that ClickHouse 18.16 and current releases both run; the time
// range comes from the plugin's $__timeFilter, $__fromTime and $__toTime,
// buckets from toStartOf* functions or intDiv by $__interval_s. [Expand]
// expands those macros and the template variables as the plugin and
// Grafana would, so tests run every panel's query on a real server, and
// refuses the constructs that 18.16 lacks or the plugin rewrites into
// them ($__timeInterval becomes toStartOfInterval; the _ms macros
// DateTime64).
//
// Long ranges read the rollups of store migration 15 (events_5m,
// alerts_1h, alert_entities_1d), never the raw events; incidents, their
// stages and the notification log are small and read directly, latest
// version first (FINAL).
package dashboards
