package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
)

func sampleBody(tb testing.TB, n int) []byte {
	tb.Helper()
	b := Batch{ID: "c1/7", Collector: "c1", OISC: "oisc-a", Seq: 7, CreatedAt: time.Date(2026, 11, 24, 10, 0, 1, 5, time.UTC)}
	for i := range n {
		b.Events = append(b.Events, json.RawMessage(fmt.Sprintf(
			`{"@timestamp":"2026-11-24T10:00:01Z","message":"ev %d \"quoted\" \\ {[","kuzet":{"event_id":"0197231e-005a-7928-a50b-%012d"},"winlog":{"EventID":4625,"ok":true,"none":null,"list":[1,2.5e3,"x",{"y":[]}]}}`, i, i)))
	}
	data, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestDecodeBodyMatchesEncodingJSON(t *testing.T) {
	data := sampleBody(t, 50)
	var want Batch
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got, err := decodeBody(data)
	if err != nil {
		t.Fatal(err)
	}
	sameBatch(t, data, got, &want)
}

func TestDecodeBodyRejects(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{`, `{"id":"a"`, `{"id":"a",}`, `{"id" "a"}`, `{"events":[{"a":1}`, `{"events":[{"a":"1}]}`,
		`{"events":[{"a":1},]}`, `{"events":[{"a":1}} `, `{"id":1}`, `{"seq":"x"}`, `{"id":"a"} x`, `{"events":[{"a":` + "\"\x01\"" + `}]}`,
		`{"events":[` + string(bytes.Repeat([]byte("["), 300)) + `]}`,
	} {
		if b, err := decodeBody([]byte(in)); err == nil {
			t.Errorf("%q: accepted as %+v", in, b)
		}
	}
}

func sameBatch(t *testing.T, data []byte, got, want *Batch) {
	t.Helper()
	if got.ID != want.ID || got.Collector != want.Collector || got.OISC != want.OISC || got.Seq != want.Seq ||
		!got.CreatedAt.Equal(want.CreatedAt) || len(got.Events) != len(want.Events) || (got.Events == nil) != (want.Events == nil) {
		t.Fatalf("%q:\ngot  %+v\nwant %+v", data, got, want)
	}
	for i := range got.Events {
		if !bytes.Equal(got.Events[i], want.Events[i]) {
			t.Fatalf("%q: event %d: got %q, want %q", data, i, got.Events[i], want.Events[i])
		}
	}
}

// FuzzDecodeBody: whatever encoding/json decodes to a batch with an id,
// decodeBody decodes to the same batch; nothing panics.
func FuzzDecodeBody(f *testing.F) {
	f.Add(sampleBody(f, 2))
	f.Add([]byte(`{"ID":"a","Events":[1,"x",null,{"a":[{}]}],"seq":3}`))
	f.Add([]byte(`{"events":null,"created_at":"2026-11-24T10:00:01+05:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeBody(data)
		var want Batch
		if json.Unmarshal(data, &want) != nil || want.ID == "" {
			return // DecodeBatch rejects a batch without id either way
		}
		if err != nil {
			t.Fatalf("%q: encoding/json decodes it, decodeBody: %v", data, err)
		}
		sameBatch(t, data, got, &want)
	})
}

func BenchmarkDecodeBody(b *testing.B) {
	data := sampleBody(b, 500)
	b.Run("kuzet", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeBody(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var bt Batch
			if err := json.Unmarshal(data, &bt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestEncodeBodyMatchesEncodingJSON(t *testing.T) {
	for _, n := range []int{0, 1, 50} {
		var b Batch
		if err := json.Unmarshal(sampleBody(t, n), &b); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			b.Events = nil
		}
		b.ID = `c1/<7>&"x"` // escapes as encoding/json writes them
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeBody(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("events %d:\ngot  %s\nwant %s", n, got, want)
		}
	}
}

func TestEncodeBodyRejectsBrokenEvents(t *testing.T) {
	for _, ev := range []string{``, `{`, `{"a":1}}`, `{"a":1} {"b":2}`, `{"a":"1}`, `]`} {
		b := Batch{ID: "c1/1", Events: []json.RawMessage{json.RawMessage(`{"ok":1}`), json.RawMessage(ev)}}
		if _, err := encodeBody(&b); err == nil {
			t.Errorf("%q: accepted", ev)
		}
	}
}

// FuzzEncodeBody: an event encodeBody accepts comes back from decodeBody
// with the same bytes (minus surrounding whitespace), and the other events
// of the envelope are untouched.
func FuzzEncodeBody(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\"}"}],"d":null}`))
	f.Add([]byte(` "x" `))
	f.Add([]byte(`{"a":`))
	f.Fuzz(func(t *testing.T, ev []byte) {
		b := Batch{ID: "c1/1", Events: []json.RawMessage{json.RawMessage(`{"first":1}`), ev, json.RawMessage(`{"last":[2]}`)}}
		body, err := encodeBody(&b)
		if err != nil {
			return
		}
		got, err := decodeBody(body)
		if err != nil {
			t.Fatalf("%q: own envelope does not decode: %v\n%s", ev, err, body)
		}
		if len(got.Events) != 3 || string(got.Events[0]) != `{"first":1}` || string(got.Events[2]) != `{"last":[2]}` ||
			!bytes.Equal(got.Events[1], bytes.Trim(ev, " \t\r\n")) {
			t.Fatalf("%q: decoded as %q", ev, got.Events)
		}
	})
}

// realisticBatch is n events as the collector batches them: event.Marshal
// output of Sysmon-like records (about 1.6 KB each, backslashes and quotes
// in the record).
func realisticBatch(tb testing.TB, n int) *Batch {
	tb.Helper()
	at := time.Date(2026, 11, 24, 10, 0, 1, 3000000, time.UTC)
	b := &Batch{ID: BatchID("almaty-1", 7), Collector: "almaty-1", OISC: "oisc-almaty", Seq: 7, CreatedAt: at}
	for i := range n {
		ev := &event.Event{Timestamp: at.Add(time.Duration(i) * time.Millisecond),
			Message: fmt.Sprintf(`Process Create: powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIAB %d`, i)}
		ev.Kuzet = event.Kuzet{EventID: fmt.Sprintf("0197231e-005a-7928-a50b-%012d", i), ReceivedAt: at, Collector: "almaty-1",
			OISC: "oisc-almaty", Input: "winevent-http", SourceType: "winevent", Asset: event.AssetUnknown}
		ev.Event.Original = fmt.Sprintf(`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"record_id":%d,`+
			`"event_data":{"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","ParentImage":`+
			`"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE","User":"QAZBANK\\a.nurlanov"}}}`, 1844674+i)
		ev.Winlog = map[string]any{"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "EventRecordID": int64(1844674 + i),
			"Image": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "User": `QAZBANK\a.nurlanov`,
			"CommandLine":       `powershell.exe -NoP -NonI -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA`,
			"ParentImage":       `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`,
			"ParentCommandLine": `"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\a.nurlanov\Downloads\invoice_1124.docm" /o ""`,
			"Hashes":            "SHA1=6CBCE4A295C163791B60FC23D285E6D84F28EE4C,MD5=7353F60B1739074EB17C5F4DDDEFE239",
			"IntegrityLevel":    "Medium", "ProcessId": int64(7312), "ParentProcessId": int64(5020)}
		doc, err := event.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		b.Events = append(b.Events, doc)
	}
	return b
}

func BenchmarkEncodeBatch(b *testing.B) {
	batch := realisticBatch(b, 500)
	body, err := encodeBody(batch)
	if err != nil {
		b.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "s2"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeBatch(batch, compress); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScannerStringsAtEveryOffset: the scanner skips eight bytes at a
// time; a quote, backslash, control or non-ASCII byte at each offset of a
// word is found all the same.
func TestScannerStringsAtEveryOffset(t *testing.T) {
	for _, p := range []string{`\"`, `\\`, `\u0041`, "\x01", "\x1f", "é", "\xff", "\x7f", ` `, `"`} {
		for n := range 18 {
			ev := `{"a":"` + strings.Repeat("x", n) + p + strings.Repeat("y", 17-n) + `","b":1}`
			b := Batch{ID: "c1/1", Events: []json.RawMessage{json.RawMessage(ev)}}
			_, encErr := encodeBody(&b)
			valid := json.Valid([]byte(ev))
			if (encErr == nil) != valid {
				t.Errorf("%q: encodeBody error %v, json.Valid %v", ev, encErr, valid)
			}
		}
	}
}
