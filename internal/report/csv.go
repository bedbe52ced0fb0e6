package report

import (
	"bytes"
	"encoding/csv"
)

// CSVHeader is the CSV export's first row.
var CSVHeader = []string{"section", "key", "label", "value"}

// CSV renders r as CSV (RFC 4180, UTF-8): the header, a row with the TLP
// and then one row per field of Sections. Every cell passes through
// SafeCell.
func CSV(r *Report) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	row := func(cells ...string) error {
		for i := range cells {
			cells[i] = SafeCell(cells[i])
		}
		return w.Write(cells)
	}
	if err := w.Write(CSVHeader); err != nil {
		return nil, err
	}
	if err := row("report", "tlp", "TLP", "TLP:"+string(r.TLP)); err != nil {
		return nil, err
	}
	if err := row("report", "generated_at", r.Lang.T("report.generated"), r.GeneratedAt.String()); err != nil {
		return nil, err
	}
	for _, s := range r.Sections() {
		for _, f := range s.Fields {
			if err := row(s.Key, f.Key, f.Label, f.Value); err != nil {
				return nil, err
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SafeCell defuses a spreadsheet formula: a cell that starts with =, +,
// -, @, a tab or a carriage return gets a leading ' (OWASP's CSV injection
// advice), so spreadsheet programs show it as text.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
