package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"

	"codeberg.org/go-pdf/fpdf"
)

var (
	//go:embed templates/digest.html
	digestHTMLSource string
	//go:embed templates/digest.css
	digestStyleExtra string

	digestStyle        = styleSource + digestStyleExtra
	digestHTMLTemplate = template.Must(template.New("digest").Parse(digestHTMLSource))
)

// DigestStyleHash is the CSP source of a digest's stylesheet (the
// report's, and a few rules for its tables).
var DigestStyleHash = func() string {
	sum := sha256.Sum256([]byte(digestStyle))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

type digestView struct {
	*Digest
	Style template.CSS
}

func (v digestView) T(key string) string { return v.Lang.T(key) }

// GeneratedAt shadows the Digest's field with its text.
func (v digestView) GeneratedAt() string { return v.Digest.GeneratedAt.String() }

// DigestHTML renders d as one self-contained HTML page, as HTML renders a
// report: escaped, the stylesheet inline (DigestStyleHash), no scripts,
// the TLP:GREEN banner on top.
func DigestHTML(d *Digest) ([]byte, error) {
	var b bytes.Buffer
	if err := digestHTMLTemplate.Execute(&b, digestView{Digest: d, Style: template.CSS(digestStyle)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DigestPDF renders d as an A4 PDF with DejaVu Sans embedded, its tables
// laid out as in the HTML, the TLP banner on top of every page and the TLP,
// digest id and page number at its foot. The same digest gives the same
// bytes (its dates are d's GeneratedAt).
func DigestPDF(d *Digest) ([]byte, error) {
	l := d.Lang
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes(pdfFont, "", fontRegular)
	f.AddUTF8FontFromBytes(pdfFont, "B", fontBold)
	f.SetMargins(pdfMargin, 22, pdfMargin)
	f.SetAutoPageBreak(true, 18)
	f.SetTitle(d.Title(), true)
	f.SetSubject("TLP:"+string(d.TLP), true)
	f.SetCreator("kuzet", true)
	f.SetProducer("kuzet (go-pdf/fpdf)", true)
	f.SetLang(string(l))
	if d.GeneratedAt != nil {
		f.SetCreationDate(d.GeneratedAt.UTC)
		f.SetModificationDate(d.GeneratedAt.UTC)
	}
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	pageW, pageH := f.GetPageSize()
	textW := pageW - 2*pdfMargin
	bottom := pageH - 18
	tlp := "TLP:" + string(d.TLP)
	f.SetHeaderFunc(func() {
		f.SetFillColor(0, 0, 0)
		f.Rect(0, 0, pageW, 14, "F")
		f.SetXY(pdfMargin, 3.5)
		f.SetFont(pdfFont, "B", 11)
		f.SetTextColor(tlpColour(string(d.TLP)))
		f.CellFormat(f.GetStringWidth(tlp)+3, 7, tlp, "", 0, "L", false, 0, "")
		f.SetFont(pdfFont, "", 7.5)
		f.MultiCell(textW-f.GetStringWidth(tlp)-3, 3.5, l.T("tlp."+string(d.TLP)), "", "L", false)
		f.SetTextColor(0, 0, 0)
		f.SetY(22)
	})
	f.SetFooterFunc(func() {
		f.SetY(-13)
		f.SetFont(pdfFont, "", 7.5)
		f.SetTextColor(60, 60, 60)
		f.CellFormat(textW/2, 5, tlp+" · "+d.ID, "", 0, "L", false, 0, "")
		f.CellFormat(textW/2, 5, fmt.Sprintf("%s %d/{nb}", l.T("report.page"), f.PageNo()), "", 0, "R", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	f.AddPage()
	f.SetFont(pdfFont, "B", 14)
	f.MultiCell(textW, 7, d.Title(), "", "L", false)
	f.SetFont(pdfFont, "", 8)
	f.SetTextColor(70, 70, 70)
	f.MultiCell(textW, 4, l.T("report.generated")+": "+d.GeneratedAt.String()+". "+l.T("report.times_note")+" "+l.T("digest.aggregates_note"), "", "L", false)
	f.SetTextColor(0, 0, 0)
	const lineH = 4.4
	for _, t := range d.Tables() {
		if f.GetY()+20 > bottom {
			f.AddPage()
		}
		f.Ln(3)
		f.SetFont(pdfFont, "B", 11)
		f.CellFormat(textW, 6.5, t.Title, "B", 1, "L", false, 0, "")
		f.Ln(1)
		widths := columnWidths(len(t.Columns), textW)
		row := func(cells []string, bold bool) {
			style, size := "", 8.5
			if bold {
				style, size = "B", 7
			}
			f.SetFont(pdfFont, style, size)
			ws := widths
			// A withheld (or empty) row's one figure spans the columns
			// left.
			if len(cells) > 2 && !slices.ContainsFunc(cells[2:], func(c string) bool { return c != "" }) {
				cells, ws = cells[:2], []float64{widths[0], textW - widths[0]}
			}
			lines := 1
			for i, c := range cells {
				lines = max(lines, len(f.SplitText(c, ws[i]-1.5)))
			}
			h := float64(lines) * lineH
			if f.GetY()+h > bottom {
				f.AddPage()
				f.SetFont(pdfFont, style, size)
			}
			x, y := pdfMargin, f.GetY()
			for i, c := range cells {
				align := "R"
				if i == 0 || len(cells) == 2 {
					align = "L"
				}
				f.SetXY(x, y)
				f.MultiCell(ws[i]-1.5, lineH, c, "", align, false)
				x += ws[i]
			}
			f.SetXY(pdfMargin, y+h)
			f.SetDrawColor(210, 210, 210)
			f.Line(pdfMargin, y+h+0.3, pdfMargin+textW, y+h+0.3)
			f.SetDrawColor(0, 0, 0)
			f.SetY(y + h + 0.8)
		}
		row(t.Columns, true)
		for _, r := range t.Rows {
			row(r, false)
		}
		if t.Note != "" {
			f.SetFont(pdfFont, "", 7.5)
			f.SetTextColor(70, 70, 70)
			f.MultiCell(textW, 3.8, t.Note, "", "L", false)
			f.SetTextColor(0, 0, 0)
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("report: digest pdf: %w", err)
	}
	return b.Bytes(), nil
}

// columnWidths gives the first of n columns the room of a label and
// shares the rest equally.
func columnWidths(n int, total float64) []float64 {
	first := total * 0.22
	switch {
	case n == 2:
		first = total * 0.45
	case n == 3:
		first = total * 0.4
	case n >= 7:
		first = total * 0.19
	}
	w := make([]float64, n)
	w[0] = first
	for i := 1; i < n; i++ {
		w[i] = (total - first) / float64(n-1)
	}
	return w
}
