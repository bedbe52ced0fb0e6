package report

import (
	"bytes"
	_ "embed"
	"fmt"

	"codeberg.org/go-pdf/fpdf"
)

// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), embedded so the binary
// needs no font at run time: Go's bundled fonts lack Kazakh Cyrillic (ә ғ
// қ ң ө ұ ү һ і), DejaVu Sans has it. Licence: fonts/LICENSE (Bitstream
// Vera, public-domain DejaVu changes; redistribution allowed).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

const (
	pdfFont   = "dejavu"
	pdfMargin = 15.0 // mm
	pdfLabelW = 58.0 // mm, the label column
	pdfLineH  = 4.6  // mm at 9 pt
)

// tlpColour is the TLP 2.0 colour of a label (FIRST's RGB values).
func tlpColour(tlp string) (r, g, b int) {
	switch tlp {
	case "RED":
		return 0xff, 0x2b, 0x2b
	case "AMBER", "AMBER+STRICT":
		return 0xff, 0xc0, 0x00
	case "GREEN":
		return 0x33, 0xff, 0x00
	}
	return 0xff, 0xff, 0xff
}

// PDF renders r as an A4 PDF with DejaVu Sans embedded (subset): the TLP
// banner on top of every page and the TLP, incident id and page number at
// its foot. Its dates are r's GeneratedAt, so the same report gives the
// same bytes.
func PDF(r *Report) ([]byte, error) {
	l := r.Lang
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes(pdfFont, "", fontRegular)
	f.AddUTF8FontFromBytes(pdfFont, "B", fontBold)
	f.SetMargins(pdfMargin, 22, pdfMargin)
	f.SetAutoPageBreak(true, 18)
	f.SetTitle(l.T("report.title")+" "+r.ID, true)
	f.SetSubject("TLP:"+string(r.TLP), true)
	f.SetCreator("kuzet", true)
	f.SetProducer("kuzet (go-pdf/fpdf)", true)
	f.SetLang(string(l))
	if r.GeneratedAt != nil {
		f.SetCreationDate(r.GeneratedAt.UTC)
		f.SetModificationDate(r.GeneratedAt.UTC)
	}
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	pageW, _ := f.GetPageSize()
	textW := pageW - 2*pdfMargin
	tlp := "TLP:" + string(r.TLP)
	f.SetHeaderFunc(func() {
		f.SetFillColor(0, 0, 0)
		f.Rect(0, 0, pageW, 14, "F")
		f.SetXY(pdfMargin, 3.5)
		f.SetFont(pdfFont, "B", 11)
		f.SetTextColor(tlpColour(string(r.TLP)))
		f.CellFormat(f.GetStringWidth(tlp)+3, 7, tlp, "", 0, "L", false, 0, "")
		f.SetFont(pdfFont, "", 7.5)
		f.MultiCell(textW-f.GetStringWidth(tlp)-3, 3.5, l.T("tlp."+string(r.TLP)), "", "L", false)
		f.SetTextColor(0, 0, 0)
		f.SetY(22)
	})
	f.SetFooterFunc(func() {
		f.SetY(-13)
		f.SetFont(pdfFont, "", 7.5)
		f.SetTextColor(60, 60, 60)
		f.CellFormat(textW/2, 5, tlp+" · "+r.ID, "", 0, "L", false, 0, "")
		f.CellFormat(textW/2, 5, fmt.Sprintf("%s %d/{nb}", l.T("report.page"), f.PageNo()), "", 0, "R", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	f.AddPage()
	f.SetFont(pdfFont, "B", 15)
	f.MultiCell(textW, 7, l.T("report.title"), "", "L", false)
	f.SetFont(pdfFont, "B", 11.5)
	f.MultiCell(textW, 6, r.Title, "", "L", false)
	f.SetFont(pdfFont, "", 8)
	f.SetTextColor(70, 70, 70)
	f.MultiCell(textW, 4, l.T("report.generated")+": "+r.GeneratedAt.String()+". "+l.T("report.times_note"), "", "L", false)
	f.SetTextColor(0, 0, 0)
	_, pageH := f.GetPageSize()
	bottom := pageH - 18
	for _, s := range r.Sections() {
		if f.GetY()+16 > bottom {
			f.AddPage()
		}
		f.Ln(3)
		f.SetFont(pdfFont, "B", 11)
		f.CellFormat(textW, 6.5, s.Title, "B", 1, "L", false, 0, "")
		f.Ln(1)
		for _, fd := range s.Fields {
			f.SetFont(pdfFont, "", 9)
			label := f.SplitText(fd.Label, pdfLabelW-2)
			value := f.SplitText(fd.Value, textW-pdfLabelW)
			lines := max(len(label), len(value), 1)
			h := float64(lines) * pdfLineH
			if h > bottom-22 {
				// Taller than a page: let MultiCell break it.
				f.SetTextColor(70, 70, 70)
				f.MultiCell(textW, pdfLineH, fd.Label, "", "L", false)
				f.SetTextColor(0, 0, 0)
				f.MultiCell(textW, pdfLineH, fd.Value, "", "L", false)
				continue
			}
			if f.GetY()+h > bottom {
				f.AddPage()
			}
			y := f.GetY()
			f.SetTextColor(70, 70, 70)
			f.SetXY(pdfMargin, y)
			f.MultiCell(pdfLabelW-2, pdfLineH, fd.Label, "", "L", false)
			f.SetTextColor(0, 0, 0)
			f.SetXY(pdfMargin+pdfLabelW, y)
			f.MultiCell(textW-pdfLabelW, pdfLineH, fd.Value, "", "L", false)
			f.SetXY(pdfMargin, y+h+0.6)
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	return b.Bytes(), nil
}
