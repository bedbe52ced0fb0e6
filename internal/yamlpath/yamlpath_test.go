package yamlpath_test

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/yamlpath"
)

func TestLine(t *testing.T) {
	src := "id: a\ninputs:\n  - name: x\n    listen: 1\n  - name: y\n    listen: 2\nnats:\n  url: u\n"
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"id": 1, "inputs": 2, "inputs[0]": 3, "inputs[1].listen": 6, "nats.url": 8,
		"nats.missing": 7, "inputs[9].listen": 2, "nowhere": 0, "id.deeper": 1,
	} {
		if got := yamlpath.Line(&doc, path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if got := yamlpath.Line(nil, "id"); got != 0 {
		t.Errorf("nil document: %d", got)
	}
}
