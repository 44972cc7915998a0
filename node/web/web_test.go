package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func(path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for path, ct := range map[string]string{
		"/":                     "text/html; charset=utf-8",
		"/ui/app.js":            "text/javascript; charset=utf-8",
		"/ui/vendor/preact.mjs": "text/javascript; charset=utf-8",
		"/ui/style.css":         "text/css; charset=utf-8",
		"/ui/icon.svg":          "image/svg+xml",
	} {
		resp := get(path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: %s %q, want 200 %q", path, resp.Status, resp.Header.Get("Content-Type"), ct)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", path)
			continue
		}
		if r := get(path, "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %s, want 304", path, r.Status)
		}
	}
	for _, path := range []string{"/nothing", "/ui/nothing.js", "/ui/vendor/LICENSE-preact", "/ui/../web.go", "/static/app.js"} {
		if resp := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", path, resp.Status)
		}
	}
	resp := get("/")
	b, _ := io.ReadAll(resp.Body)
	// The page must run under a CSP without 'unsafe-inline': no inline
	// scripts, styles or event handlers.
	page := string(b)
	for _, bad := range []string{"<script>", "style=", "<style", " onload=", " onclick=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	if !strings.Contains(page, `<script type="module" src="/ui/app.js">`) {
		t.Error("index.html does not load /ui/app.js as a module")
	}
}

// The UI never builds HTML from strings: text from the network must be set
// as text, and Preact's escape hatch is forbidden.
func TestNoHTMLInjection(t *testing.T) {
	err := walkJS(func(name, src string) {
		for _, bad := range []string{"dangerouslySetInnerHTML", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
