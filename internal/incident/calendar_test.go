package incident_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

func clockTestCalendar(t *testing.T) *incident.Calendar {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "clock_calendar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	zone, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	c, err := incident.ParseCalendar("T", zone, [7]bool{time.Saturday: true, time.Sunday: true}, data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// offWeekdays lists the weekdays of year that are days off, and the weekend
// days that are worked, as the calendar answers day by day.
func calendarOffWeekdays(c *incident.Calendar, year int) (off, worked []string) {
	for d := time.Date(year, 1, 1, 12, 0, 0, 0, c.Zone); d.Year() == year; d = d.AddDate(0, 0, 1) {
		w, _ := c.IsWorkingDay(d)
		weekend := c.Weekend[d.Weekday()]
		switch {
		case !w && !weekend:
			off = append(off, d.Format("01-02"))
		case w && weekend:
			worked = append(worked, d.Format("01-02"))
		}
	}
	return off, worked
}

func TestCalendarDaysOff(t *testing.T) {
	c := clockTestCalendar(t)
	for _, tc := range []struct {
		year        int
		off, worked []string
	}{
		// 2025: Mar 22-23 fall on the weekend and move to Mar 24-25; Dec 17 still a holiday.
		{2025, []string{"01-01", "01-02", "01-07", "03-21", "03-24", "03-25", "12-17"}, nil},
		// 2026: Jan 9 off and Sat Jan 10 worked (transfer); Mar 21-22 (Sat, Sun) move past
		// Mar 23 to Mar 24-25; Oct 25 (Sun) from 2026 moves to Oct 26; K is a Wednesday.
		{2026, []string{"01-01", "01-02", "01-07", "01-09", "03-23", "03-24", "03-25", "05-27", "10-26"}, []string{"01-10"}},
		// 2027: Jan 2 (Sat) moves to Mon Jan 4; Mar 21 (Sun) moves past Mar 22-23 to Mar 24.
		{2027, []string{"01-01", "01-04", "01-07", "03-22", "03-23", "03-24", "10-25"}, nil},
		// 2029: R on Sunday Jan 7 does not move (moves: false): Jan 8 is worked.
		{2029, []string{"01-01", "01-02", "03-21", "03-22", "03-23", "10-25"}, nil},
		// 2028 is not covered: weekends alone.
		{2028, nil, nil},
	} {
		off, worked := calendarOffWeekdays(c, tc.year)
		if !slices.Equal(off, tc.off) || !slices.Equal(worked, tc.worked) {
			t.Errorf("%d: days off %v, worked weekend days %v; want %v, %v", tc.year, off, worked, tc.off, tc.worked)
		}
	}
	if _, known := c.IsWorkingDay(time.Date(2028, 3, 21, 12, 0, 0, 0, time.UTC)); known {
		t.Error("2028 reported as covered")
	}
	if r := c.DayOffReason(time.Date(2027, 1, 4, 12, 0, 0, 0, c.Zone)); r != "B (moved from 2027-01-02, Labour Code Art. 85)" {
		t.Errorf("reason of 2027-01-04: %q", r)
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := clockTestCalendar(t)
	for _, tc := range []struct {
		from    string
		n       int
		want    string
		missing []int
	}{
		{"2026-01-08T15:00:00+05:00", 1, "2026-01-10T15:00:00+05:00", nil},         // Fri off by transfer, Sat worked
		{"2026-01-10T15:00:00+05:00", 1, "2026-01-12T15:00:00+05:00", nil},         // from the working Saturday
		{"2026-03-20T09:00:00+05:00", 3, "2026-03-30T09:00:00+05:00", nil},         // Mar 21-25 off
		{"2026-03-21T09:00:00+05:00", 1, "2026-03-26T09:00:00+05:00", nil},         // starting on a day off
		{"2026-01-09T20:00:00Z", 1, "2026-01-12T01:00:00+05:00", nil},              // local date is Sat Jan 10
		{"2027-12-31T10:00:00+05:00", 1, "2028-01-03T10:00:00+05:00", []int{2028}}, // 2028 missing: weekends alone
		{"2027-12-30T10:00:00+05:00", 3, "2028-01-04T10:00:00+05:00", []int{2028}},
		{"2028-12-29T10:00:00+05:00", 3, "2029-01-05T10:00:00+05:00", []int{2028}}, // into 2029: Jan 1-2 off
		{"2027-12-28T10:00:00+05:00", 2, "2027-12-30T10:00:00+05:00", nil},
	} {
		from, err := time.Parse(time.RFC3339, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		got, missing := c.AddWorkingDays(from, tc.n)
		if got.Format(time.RFC3339) != tc.want || !slices.Equal(missing, tc.missing) {
			t.Errorf("%s + %d working days = %s (missing %v), want %s (missing %v)", tc.from, tc.n,
				got.Format(time.RFC3339), missing, tc.want, tc.missing)
		}
	}
}

// TestShippedKZ2025 pins what the shipped data and the Art. 85 rule give for
// 2025, the year the shipped regimes' examples use: a change to kz.yaml that
// alters it must be deliberate.
func TestShippedKZ2025(t *testing.T) {
	kz := shippedRegimes(t).Calendars["KZ"]
	off, worked := calendarOffWeekdays(kz, 2025)
	wantOff := []string{"01-01", "01-02", "01-03", "01-07", "03-10", "03-21", "03-24", "03-25", "05-01", "05-07", "05-09",
		"06-06", "07-07", "09-01", "10-27", "12-16"}
	if !slices.Equal(off, wantOff) || !slices.Equal(worked, []string{"01-04"}) {
		t.Errorf("KZ 2025: days off %v, worked weekend days %v", off, worked)
	}
	for y := 2024; y <= 2027; y++ {
		off, worked := calendarOffWeekdays(kz, y)
		t.Logf("KZ %d: weekdays off %v; weekend days worked %v", y, off, worked)
	}
}
