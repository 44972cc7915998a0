package cli

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                        "hello",
		"two\nlines\tand a tab":        "two\nlines\tand a tab",
		"\r\x1b[2Kbob: pay me":         `\r\x1b[2Kbob: pay me`,
		"bell\a and backspace\b":       `bell\a and backspace\b`,
		"right-to-left \u202egnp.exe":  `right-to-left \u202egnp.exe`,
		"c1 control \u009b":            `c1 control \u009b`,
		"bad utf-8 \xff":               `bad utf-8 \xff`,
		"村 and 🧧 stay":                 "村 and 🧧 stay",
		"a real replacement \ufffd ok": "a real replacement \ufffd ok",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CleanLine("one\nline\t"); got != `one\nline\t` {
		t.Errorf("CleanLine = %q", got)
	}
	if got := IndentLines("a\r\nb", 2); got != "a\\r\n  b" {
		t.Errorf("IndentLines = %q", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{
		"2160h0m0s": "90 days", "24h": "1 day", "36h": "36 hours", "1h": "1 hour",
		"1h30m0s": "1h30m0s", "90s": "1m30s", "soon": "soon",
	} {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%q) = %q, want %q", in, got, want)
		}
	}
}
