package report_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/kuzet-kz/kuzet/internal/report"
)

// pdftotext returns the text poppler's pdftotext extracts from pdf. A
// missing pdftotext skips the test, or fails it with CI=true (make test
// installs poppler-utils).
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext (poppler-utils) missing with CI=true")
		}
		t.Skip("pdftotext (poppler-utils) missing; make test installs it")
	}
	p := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// TestPDFText: pdftotext extracts the Kazakh and Russian text of the seeded
// report (its labels and the organisation's names with ә ғ қ ң ө ұ ү і),
// and the English report has no Cyrillic at all (its organisation's name is
// the English one). The same report gives the same bytes.
func TestPDFText(t *testing.T) {
	for _, c := range []struct {
		lang report.Lang
		want []string
	}{
		{report.Kazakh, []string{"Ақпараттық қауіпсіздік инциденті туралы есеп", "Жаңа ағын: тәуелсіз қауіпсіз ұлттық үйлестіру",
			"өңірлік жүйесі", "Хабарлаған ұйым", "Мәртебесі", "оқшауланған", "Электр энергетикасы", "Зардап шеккен жүйелер",
			"Хабарлау кезеңдері", "2026-03-14 10:00:00 +05:00 (Asia/Almaty)", "TLP:AMBER"}},
		{report.Russian, []string{"Отчёт об инциденте информационной безопасности", "АО «Жаңа Грид» — региональная энергосеть",
			"Сообщающая организация", "локализован", "Электроэнергетика", "Этапы уведомления", "ответственный за ИБ"}},
		{report.English, []string{"Information security incident report", "Zhana Grid JSC", "Notification stages",
			"kz_oisc_to_ncc / immediate", "contained", "Electricity"}},
	} {
		t.Run(string(c.lang), func(t *testing.T) {
			r := build(t, seeded(), c.lang)
			pdf, err := report.PDF(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 16)])
			}
			again, err := report.PDF(r)
			if err != nil || !bytes.Equal(pdf, again) {
				t.Errorf("the same report gives other bytes (%v)", err)
			}
			text := pdftotext(t, pdf)
			flat := strings.Join(strings.Fields(text), " ")
			for _, w := range c.want {
				if !strings.Contains(flat, w) {
					t.Errorf("%q not extracted from the %s PDF", w, c.lang)
				}
			}
			if c.lang == report.English {
				for _, line := range strings.Split(text, "\n") {
					if strings.ContainsFunc(line, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) {
						t.Errorf("Cyrillic in the English PDF: %q", strings.TrimSpace(line))
					}
				}
			}
			if testing.Verbose() {
				t.Logf("%s: %d bytes, %d pages", c.lang, len(pdf), strings.Count(text, "\f"))
			}
		})
	}
}
