package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLoadgenUsage checks that bad flags exit 2 with a message naming the
// problem, before anything is sent.
func TestLoadgenUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "fast"}, `-rate "fast"`},
		{[]string{"--target", "oisc-astana"}, "want OISC:kind=host:port"},
		{[]string{"--pid", "ncc"}, "want NAME=PID"},
		{[]string{"--mix", "testdata/none.yaml"}, "mix:"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var out, errb bytes.Buffer
		if code := dispatch(append([]string{"loadgen"}, tc.args...), nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q, want %q", tc.args, errb.String(), tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"loadgen", "-h"}, nil, &out, &errb); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
