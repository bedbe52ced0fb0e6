package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"strings"
)

var (
	//go:embed templates/report.html
	htmlSource string
	//go:embed templates/report.css
	styleSource string

	htmlTemplate = template.Must(template.New("report").Parse(htmlSource))
)

// StyleHash is the CSP source of the HTML report's stylesheet
// ("'sha256-…'"): a server that forbids inline styles allows this one.
var StyleHash = func() string {
	sum := sha256.Sum256([]byte(styleSource))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

type htmlView struct {
	*Report
	Style template.CSS
}

func (v htmlView) T(key string) string { return v.Lang.T(key) }

// TLPStatement is the catalogue key of the TLP's statement.
func (v htmlView) TLPStatement() string { return "tlp." + string(v.TLP) }

// TLPClass is the CSS class suffix of the TLP.
func (v htmlView) TLPClass() string {
	return strings.ReplaceAll(strings.ToLower(string(v.TLP)), "+", "-")
}

// GeneratedAt shadows the Report's field with its text.
func (v htmlView) GeneratedAt() string { return v.Report.GeneratedAt.String() }

// HTML renders r as one self-contained HTML page: every value escaped by
// html/template, the stylesheet inline (see StyleHash), no scripts, no
// external assets; the TLP banner on top and, in print, on every page.
func HTML(r *Report) ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, htmlView{Report: r, Style: template.CSS(styleSource)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
