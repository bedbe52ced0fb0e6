package winevent_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
)

func decodeAll(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// The flat file has the same events flattened by SigmaHQ's tooling: our
// flattening of the raw evtx_dump files must give exactly those fields.
func TestRegressionEventsMatchSigmaHQFlattening(t *testing.T) {
	root := conformance.Path(t, "sigmahq")
	files := map[string][]map[string]any{}
	n := 0
	conformance.Lines(t, filepath.Join(root, "regression_events.flat.jsonl"), func(line []byte) bool {
		flat := decodeAll(t, line)[0]
		src, _ := flat["_source"].(string)
		idx, _ := flat["_index"].(json.Number).Int64()
		if _, ok := files[src]; !ok {
			data, err := os.ReadFile(filepath.Join(root, src))
			if err != nil {
				t.Fatal(err)
			}
			files[src] = decodeAll(t, data)
		}
		raw := files[src][idx]
		got, ts, err := winevent.Flatten(raw)
		if err != nil {
			t.Fatalf("%s[%d]: %v", src, idx, err)
		}
		want := winevent.Fields{}
		for k, v := range flat {
			if strings.HasPrefix(k, "_") {
				continue
			}
			if num, ok := v.(json.Number); ok {
				v, _ = num.Int64()
			}
			want[k] = v
		}
		if !reflect.DeepEqual(map[string]any(got), map[string]any(want)) {
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s[%d] %s: got %#v, want %#v", src, idx, k, got[k], want[k])
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s[%d]: extra field %s", src, idx, k)
				}
			}
		}
		if ts.IsZero() {
			t.Errorf("%s[%d]: no time", src, idx)
		}
		n++
		return true
	})
	if n < 200 {
		t.Fatalf("compared %d events", n)
	}
}

func TestWinlogbeatShape(t *testing.T) {
	doc := decodeAll(t, []byte(`{"@timestamp":"2026-11-24T10:00:01.123Z","winlog":{"event_id":"4625","channel":"Security",
	"computer_name":"dc1.corp.local","provider_name":"Microsoft-Windows-Security-Auditing","record_id":123,
	"process":{"pid":636,"thread":{"id":700}},
	"event_data":{"TargetUserName":"admin","Status":"0xC000006D","SubStatus":"0xc0000064","LogonType":"3","TargetLogonId":"0x00000000000003E7"}}}`))[0]
	got, ts, err := winevent.Flatten(doc)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"EventID": int64(4625), "Channel": "Security", "Computer": "dc1.corp.local",
		"Provider_Name": "Microsoft-Windows-Security-Auditing", "Status": "0xc000006d", "SubStatus": "0xc0000064",
		"TargetLogonId": "0x3e7", "LogonType": "3", "Execution_ProcessID": int64(636), "EventRecordID": int64(123)} {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if ts.IsZero() {
		t.Error("no time")
	}
}

func TestHex(t *testing.T) {
	for in, want := range map[string]string{"0x3e7": "0x3e7", "0x000003E7": "0x3e7", "0X0": "0x0", "0x0000": "0x0",
		"0xC000006D": "0xc000006d", "0x8000000000000000": "0x8000000000000000", "0xZZ": "0xZZ", "x": "x", "0x": "0x"} {
		if got := winevent.Hex(in); got != want {
			t.Errorf("Hex(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, s := range []string{`{"Event":{}}`, `{"Event":{"System":{"Channel":"x"}}}`, `{"winlog":{}}`, `{"foo":1}`} {
		if _, _, err := winevent.Flatten(decodeAll(t, []byte(s))[0]); err == nil {
			t.Errorf("accepted %s", s)
		}
	}
}
