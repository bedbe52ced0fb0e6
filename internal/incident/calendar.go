package incident

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// Calendar is a working-day calendar: a zone, the weekend days, and per
// year the days off (public holidays, holidays moved off a weekend, the
// government's transferred days off) and the working weekend days
// (transfer working Saturdays). A year the data lacks is counted on weekends
// alone; AddWorkingDays reports it. Treat a Calendar as immutable.
type Calendar struct {
	ID      string
	Zone    *time.Location
	Weekend [7]bool
	// Years holds the source of each year the data covers (a government
	// decree's name, or a note that it is from memory).
	Years map[int]YearSource
	off   map[civilDate]string // day off → its reason
	work  map[civilDate]string // working weekend day → its reason
}

// YearSource is where a year's data comes from, and whether it still needs
// checking against the official text.
type YearSource struct {
	Source string
	Verify bool
}

// civilDate is a date without a zone.
type civilDate struct {
	y int
	m time.Month
	d int
}

func civilDateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (c civilDate) time(zone *time.Location) time.Time {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, zone)
}

func (c civilDate) next() civilDate {
	return civilDateOf(time.Date(c.y, c.m, c.d+1, 0, 0, 0, 0, time.UTC))
}

func (c civilDate) String() string { return fmt.Sprintf("%04d-%02d-%02d", c.y, c.m, c.d) }

func (c civilDate) weekday() time.Weekday { return c.time(time.UTC).Weekday() }

func parseCivilDate(s string) (civilDate, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return civilDate{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return civilDateOf(t), nil
}

// The holidays file's form.
type calendarFile struct {
	Calendar string `yaml:"calendar"`
	// MoveWeekendHolidays: a holiday on a weekend day moves the day off to
	// the next working day (Labour Code of RK Art. 85), unless the holiday
	// says moves: false.
	MoveWeekendHolidays bool               `yaml:"move_weekend_holidays"`
	Holidays            []fixedHolidayFile `yaml:"holidays"`
	Years               []yearFile         `yaml:"years"`
}

type fixedHolidayFile struct {
	Date   string `yaml:"date"` // MM-DD, every year the file covers
	Name   string `yaml:"name"`
	Moves  *bool  `yaml:"moves"`
	From   int    `yaml:"from"`
	Until  int    `yaml:"until"`
	Verify bool   `yaml:"verify"`
}

type yearFile struct {
	Year      int               `yaml:"year"`
	Source    string            `yaml:"source"`
	Verify    bool              `yaml:"verify"`
	Holidays  []yearHolidayFile `yaml:"holidays"`
	Transfers []transferFile    `yaml:"transfers"`
}

type yearHolidayFile struct {
	Date   string `yaml:"date"` // YYYY-MM-DD
	Name   string `yaml:"name"`
	Moves  *bool  `yaml:"moves"`
	Verify bool   `yaml:"verify"`
}

// transferFile is one transfer of a day off by government decree: the
// weekend day WorkingDay is worked, and DayOff (a weekday) is not.
type transferFile struct {
	DayOff     string `yaml:"day_off"`
	WorkingDay string `yaml:"working_day"`
	Verify     bool   `yaml:"verify"`
}

// ParseCalendar builds calendar id from its zone, weekend and holidays file
// (strict YAML; nil data gives a calendar of weekends alone with no year
// covered). Every problem is returned joined, each naming its field.
func ParseCalendar(id string, zone *time.Location, weekend [7]bool, data []byte) (*Calendar, error) {
	c := &Calendar{ID: id, Zone: zone, Weekend: weekend, Years: map[int]YearSource{},
		off: map[civilDate]string{}, work: map[civilDate]string{}}
	if data == nil {
		return c, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f calendarFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	if f.Calendar != id {
		bad("calendar", "is %q, but the regimes file loads it as %q", f.Calendar, id)
	}
	type holiday struct {
		date  civilDate
		name  string
		moves bool
	}
	for i, h := range f.Holidays {
		where := fmt.Sprintf("holidays[%d]", i)
		if _, err := time.Parse("01-02", h.Date); err != nil || len(h.Date) != 5 {
			bad(where+".date", "%q is not MM-DD", h.Date)
		}
		if h.Name == "" {
			bad(where+".name", "missing")
		}
		if h.From != 0 && h.Until != 0 && h.Until < h.From {
			bad(where+".until", "%d is before from %d", h.Until, h.From)
		}
	}
	for i, y := range f.Years {
		where := fmt.Sprintf("years[%d]", i)
		if y.Year < 1991 || y.Year > 2200 {
			bad(where+".year", "%d out of range", y.Year)
			continue
		}
		if _, dup := c.Years[y.Year]; dup {
			bad(where+".year", "duplicate year %d", y.Year)
			continue
		}
		if y.Source == "" {
			bad(where+".source", "missing: cite the year's source")
		}
		c.Years[y.Year] = YearSource{Source: y.Source, Verify: y.Verify}
		var hs []holiday
		for _, h := range f.Holidays {
			if h.From != 0 && y.Year < h.From || h.Until != 0 && y.Year > h.Until {
				continue
			}
			d, err := parseCivilDate(fmt.Sprintf("%04d-%s", y.Year, h.Date))
			if err != nil {
				continue // reported above
			}
			hs = append(hs, holiday{d, h.Name, h.Moves == nil || *h.Moves})
		}
		for j, h := range y.Holidays {
			hw := fmt.Sprintf("%s.holidays[%d]", where, j)
			d, err := parseCivilDate(h.Date)
			if err != nil {
				bad(hw+".date", "%v", err)
				continue
			}
			if d.y != y.Year {
				bad(hw+".date", "%s is not in %d", d, y.Year)
				continue
			}
			if h.Name == "" {
				bad(hw+".name", "missing")
			}
			hs = append(hs, holiday{d, h.Name, h.Moves == nil || *h.Moves})
		}
		sort.SliceStable(hs, func(a, b int) bool { return hs[a].date.time(time.UTC).Before(hs[b].date.time(time.UTC)) })
		for _, h := range hs {
			if prev, dup := c.off[h.date]; dup {
				c.off[h.date] = prev + "; " + h.name
				continue
			}
			c.off[h.date] = h.name
		}
		// Labour Code Art. 85: a holiday on a weekend day moves the day off to
		// the next working day after the holidays, in date order.
		if f.MoveWeekendHolidays {
			for _, h := range hs {
				if !h.moves || !weekend[h.date.weekday()] {
					continue
				}
				d := h.date.next()
				for weekend[d.weekday()] || c.off[d] != "" {
					d = d.next()
				}
				c.off[d] = h.name + " (moved from " + h.date.String() + ", Labour Code Art. 85)"
			}
		}
		for j, t := range y.Transfers {
			tw := fmt.Sprintf("%s.transfers[%d]", where, j)
			off, err1 := parseCivilDate(t.DayOff)
			work, err2 := parseCivilDate(t.WorkingDay)
			if err1 != nil {
				bad(tw+".day_off", "%v", err1)
			}
			if err2 != nil {
				bad(tw+".working_day", "%v", err2)
			}
			if err1 != nil || err2 != nil {
				continue
			}
			if off.y != y.Year {
				bad(tw+".day_off", "%s is not in %d", off, y.Year)
			} else if weekend[off.weekday()] {
				bad(tw+".day_off", "%s is a %s, already a weekend day", off, off.weekday())
			} else if c.off[off] != "" {
				bad(tw+".day_off", "%s is already a day off (%s)", off, c.off[off])
			}
			if work.y != y.Year {
				bad(tw+".working_day", "%s is not in %d", work, y.Year)
			} else if !weekend[work.weekday()] {
				bad(tw+".working_day", "%s is a %s, not a weekend day", work, work.weekday())
			} else if c.work[work] != "" {
				bad(tw+".working_day", "%s is listed twice", work)
			}
			reason := fmt.Sprintf("transfer %s ↔ %s (%s)", work, off, y.Source)
			c.off[off] = reason
			c.work[work] = reason
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// IsWorkingDay reports whether the local date of t (in the calendar's zone)
// is a working day, and whether the calendar covers its year (known false:
// counted on weekends alone).
func (c *Calendar) IsWorkingDay(t time.Time) (working, known bool) {
	return c.working(civilDateOf(t.In(c.Zone)))
}

func (c *Calendar) working(d civilDate) (working, known bool) {
	_, known = c.Years[d.y]
	if c.work[d] != "" {
		return true, known
	}
	if c.off[d] != "" {
		return false, known
	}
	return !c.Weekend[d.weekday()], known
}

// DayOffReason says why the local date of t is not a working day ("" for a
// working day or a plain weekend day).
func (c *Calendar) DayOffReason(t time.Time) string {
	return c.off[civilDateOf(t.In(c.Zone))]
}

// AddWorkingDays returns the same local wall-clock time as t on the n-th
// working day after t's local date, in the calendar's zone (DOMAIN.md's
// {business_days: n, calendar: C}). It also returns, sorted, the years the
// count passed through that the calendar does not cover: those days were
// counted on weekends alone.
func (c *Calendar) AddWorkingDays(t time.Time, n int) (time.Time, []int) {
	l := t.In(c.Zone)
	d := civilDateOf(l)
	var missing []int
	for left := n; left > 0; {
		d = d.next()
		working, known := c.working(d)
		if !known && !slices.Contains(missing, d.y) {
			missing = append(missing, d.y)
		}
		if working {
			left--
		}
	}
	hh, mm, ss := l.Clock()
	return time.Date(d.y, d.m, d.d, hh, mm, ss, l.Nanosecond(), c.Zone), missing
}
