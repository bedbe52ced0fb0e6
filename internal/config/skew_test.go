package config_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
)

func TestClockSkewConfig(t *testing.T) {
	if d := config.DefaultCollector().ClockSkew; d.Future != 5*time.Minute || d.Past != time.Hour {
		t.Errorf("defaults %+v", d)
	}
	c := config.DefaultCollector()
	err := config.Load(filepath.Join("testdata", "collector_skew.bad.yaml"), &c)
	for _, w := range []string{"clock_skew.future: must not be negative", "clock_skew.past: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}
