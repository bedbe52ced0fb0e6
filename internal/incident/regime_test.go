package incident_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

// shipped loads configs/regimes.yaml and the calendar it names, relative to
// the module root as the binaries read them from the working directory.
func shippedRegimes(tb testing.TB) *incident.Regimes {
	tb.Helper()
	r, err := incident.LoadRegimes(os.DirFS(conformance.ModuleRoot(tb)), "configs/regimes.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestShippedRegimesAndCalendarLoad(t *testing.T) {
	r := shippedRegimes(t)
	var ids []string
	for _, g := range r.Regimes {
		ids = append(ids, g.ID)
	}
	if got := strings.Join(ids, " "); got != "kz_oisc_to_ncc kz_owner_self_identified kz_pd_breach nis2 circia" {
		t.Errorf("regimes: %s", got)
	}
	nis2 := r.Regime("nis2")
	if nis2 == nil || len(nis2.Stages) != 6 || nis2.Stages[2].Stage != "intermediate" || !nis2.Stages[2].Due.None() ||
		nis2.Stages[3].Due.String() != "P1M" || nis2.Stages[3].Unless != "ongoing" || nis2.Stages[5].If != "was_ongoing_at_final" {
		t.Errorf("nis2 decoded wrong: %+v", nis2)
	}
	pd := r.Regime("kz_pd_breach").Stages[0]
	if pd.Due.String() != "{business_days: 1, calendar: KZ}" || pd.Recipients[0] != incident.RecipientAuthorizedBody || len(pd.Required) != 3 {
		t.Errorf("kz_pd_breach decoded wrong: %+v", pd)
	}
	kz := r.Calendars["KZ"]
	if kz == nil {
		t.Fatal("no KZ calendar")
	}
	for y := 2024; y <= 2027; y++ {
		src, ok := kz.Years[y]
		if !ok || src.Source == "" {
			t.Errorf("kz.yaml lacks %d or its source", y)
		}
	}
	// Kazakhstan is on UTC+5 since 2024-03-01 (tzdata 2024a); older tzdata
	// would shift every KZ due by an hour.
	if _, off := time.Date(2025, 6, 1, 0, 0, 0, 0, kz.Zone).Zone(); off != 5*3600 {
		t.Errorf("Asia/Almaty is UTC%+d in 2025: tzdata older than 2024a", off/3600)
	}
}

func TestBadRegimes(t *testing.T) {
	for file, want := range map[string][]string{
		"clock_regimes_unknown_key.bad.yaml": {"field dew not found"},
		"clock_regimes_fields.bad.yaml": {
			"calendars.XX.zone: unknown time zone Mars/Olympus",
			"calendars.KZ.weekend: unknown day \"saturday\"",
			"regimes[0].basis: missing",
			`regimes[0].applies_if.origin: unknown origin "oisc"`,
			`regimes[0].applies_if.determination: unknown determination "false-positive"`,
			"regimes[0].stages[0].due: line 9: duration \"1H\": must start with P",
			`regimes[0].stages[1].anchor: unknown anchor "noticed_at"`,
			`regimes[0].stages[1].recipients: unknown recipient "CEO"`,
			"regimes[0].stages[1].due: missing (write null",
			`regimes[0].stages[2].anchor: "stage.later.sent_at" names no earlier stage`,
			`regimes[0].stages[2].if: unknown predicate "raining"`,
			`regimes[0].stages[2].due: line 12: unknown calendar "US"`,
			`regimes[1].id: duplicate id "a"`,
			"regimes[1].stages[0].due: line 16: business_days must be an integer 1..366",
			`regimes[1].stages[1].stage: duplicate stage "s"`,
			"regimes[1].stages[1].due: line 17: field days not found",
		},
		"clock_regimes_calendar.bad.yaml": {
			"calendars.KZ.holidays_file: testdata/clock_calendar.bad.yaml:",
			`calendar: is "KG", but the regimes file loads it as "KZ"`,
			`holidays[0].date: "1-1" is not MM-DD`,
			"years[0].source: missing",
			"years[0].holidays[0].date: 2024-06-16 is not in 2025",
			"years[0].transfers[0].working_day: 2025-01-06 is a Monday, not a weekend day",
			"years[0].transfers[1].day_off: 2025-01-05 is a Sunday, already a weekend day",
			"years[0].transfers[2].day_off: 2025-01-01 is already a day off (New Year)",
			"years[1].year: duplicate year 2025",
		},
	} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = incident.ParseRegimes(data, os.DirFS("."))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseRegimesReadsHolidaysFileFromTheGivenFS(t *testing.T) {
	fsys := fstest.MapFS{
		"r.yaml": {Data: []byte("calendars:\n  KZ: {zone: Asia/Almaty, weekend: [sat, sun], holidays_file: cal/kz.yaml}\n" +
			"regimes:\n  - {id: a, basis: b, stages: [{stage: s, anchor: detected_at, due: {business_days: 1, calendar: KZ}}]}\n")},
		"cal/kz.yaml": {Data: []byte("calendar: KZ\nyears:\n  - {year: 2025, source: test, holidays: [{date: \"2025-06-06\", name: x}]}\n")},
	}
	r, err := incident.LoadRegimes(fsys, "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w, known := r.Calendars["KZ"].IsWorkingDay(time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC)); w || !known {
		t.Errorf("2025-06-06 from cal/kz.yaml: working %v known %v", w, known)
	}
	if _, err := incident.ParseRegimes(fsys["r.yaml"].Data, nil); err == nil || !strings.Contains(err.Error(), "no file system") {
		t.Errorf("nil fs: %v", err)
	}
	if _, err := incident.LoadRegimes(fstest.MapFS{"r.yaml": fsys["r.yaml"]}, "r.yaml"); err == nil ||
		!strings.Contains(err.Error(), "r.yaml: calendars.KZ.holidays_file: open cal/kz.yaml") {
		t.Errorf("missing holidays file: %v", err)
	}
}

func TestParseISODuration(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "PT1H", want: "PT1H"},
		{in: "PT24H", want: "PT24H"},
		{in: "PT72H", want: "PT72H"},
		{in: "P1M", want: "P1M"},
		{in: "P1Y2M3W4DT5H6M7S", want: "P1Y2M3W4DT5H6M7S"},
		{in: "P0D", want: "PT0S"},
		{in: "PT90M", want: "PT90M"},
		{in: "1H", err: "must start with P"},
		{in: "P", err: "no component"},
		{in: "PT", err: "no component"},
		{in: "P1DT", err: "T without a time component"},
		{in: "PT1.5H", err: "unknown unit"},
		{in: "P1H", err: "unknown unit"},
		{in: "PT1D", err: "unknown unit"},
		{in: "P1D1M", err: "out of order"},
		{in: "P1M1M", err: "out of order"},
		{in: "P-1D", err: "expected a number"},
		{in: "PT1", err: "expected a number then a unit"},
		{in: "P1234567D", err: "too large"},
		{in: "pt1h", err: "must start with P"},
	} {
		d, err := incident.ParseISODuration(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.in, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.err == "" && d.String() != c.want:
			t.Errorf("%s: %s", c.in, d)
		}
	}
}

func TestDurationAddTo(t *testing.T) {
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	instant := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		d, from string
		zone    *time.Location
		want    string
	}{
		{"PT72H", "2025-06-10T07:00:00Z", almaty, "2025-06-13T07:00:00Z"},
		{"P1M", "2025-06-12T10:00:00Z", almaty, "2025-07-12T10:00:00Z"},
		// The month is the zone's: 20:00Z on Jan 31 is Feb 1 in Almaty.
		{"P1M", "2025-01-31T20:00:00Z", almaty, "2025-02-28T20:00:00Z"},
		{"P1M", "2025-01-31T20:00:00Z", time.UTC, "2025-02-28T20:00:00Z"},
		{"P1M", "2025-01-30T20:00:00Z", almaty, "2025-02-27T20:00:00Z"}, // Jan 31 01:00 local → Feb 28 01:00 local
		{"P1M", "2025-01-30T20:00:00Z", time.UTC, "2025-02-28T20:00:00Z"},
		{"P1M", "2024-01-31T06:00:00Z", almaty, "2024-02-29T06:00:00Z"}, // leap year
		{"P1M", "2025-03-31T09:00:00Z", time.UTC, "2025-04-30T09:00:00Z"},
		{"P1Y", "2024-02-29T06:00:00Z", time.UTC, "2025-02-28T06:00:00Z"},
		// Calendar months keep the wall-clock time across a DST change; hours are elapsed time.
		{"P1M", "2025-03-10T11:00:00Z", berlin, "2025-04-10T10:00:00Z"},
		{"PT720H", "2025-03-10T11:00:00Z", berlin, "2025-04-09T11:00:00Z"},
		{"P1DT12H", "2025-06-10T07:00:00Z", almaty, "2025-06-11T19:00:00Z"},
		{"P2W", "2025-06-10T07:00:00Z", nil, "2025-06-24T07:00:00Z"},
	} {
		d, err := incident.ParseISODuration(c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AddTo(instant(c.from), c.zone).UTC().Format(time.RFC3339); got != c.want {
			t.Errorf("%s + %s in %v = %s, want %s", c.from, c.d, c.zone, got, c.want)
		}
	}
}

func FuzzParseISODuration(f *testing.F) {
	for _, s := range []string{"PT1H", "P1M", "P1Y2M3W4DT5H6M7S", "PT", "P1DT", "P-1D", "PT1.5H"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := incident.ParseISODuration(s)
		if err != nil {
			return
		}
		// What parses round-trips through String.
		d2, err := incident.ParseISODuration(d.String())
		if err != nil || d2 != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, d.String(), d2, err)
		}
		_ = d.AddTo(time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC), time.UTC)
	})
}

func FuzzParseRegimes(f *testing.F) {
	root := conformance.ModuleRoot(f)
	for _, name := range []string{"configs/regimes.yaml", "internal/incident/testdata/clock_regimes_fields.bad.yaml",
		"internal/incident/testdata/clock_regimes_calendar.bad.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	fsys := os.DirFS(root)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := incident.ParseRegimes(data, fsys)
		if err != nil {
			return
		}
		// What loads computes without panicking.
		c, err := incident.NewClocks(incident.ClockOptions{Regimes: r})
		if err != nil {
			t.Fatal(err)
		}
		in := incident.ClockInput{IncidentID: "i", Origin: "oisc_detected", Determination: "confirmed", Significant: true,
			PersonalDataInvolved: true, ObjectIsCritical: true, RansomPaid: true, DetectedAt: time.Date(2025, 1, 31, 20, 0, 0, 0, time.UTC)}
		if _, _, err := c.Compute(in, in.DetectedAt.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseCalendar(f *testing.F) {
	for _, name := range []string{"../../configs/calendars/kz.yaml", "testdata/clock_calendar.yaml", "testdata/clock_calendar.bad.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := incident.ParseCalendar("KZ", time.UTC, [7]bool{time.Saturday: true, time.Sunday: true}, data)
		if err != nil {
			return
		}
		c.AddWorkingDays(time.Date(2025, 12, 30, 10, 0, 0, 0, time.UTC), 5)
	})
}
