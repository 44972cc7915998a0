package webtest

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/web"
)

// TestJSUnit runs the unit tests of the UI's logic (testdata/jsunit.js) in
// the browser, under the same Content-Security-Policy as the real page.
func TestJSUnit(t *testing.T) {
	bctx := newBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("/test/", http.StripPrefix("/test/", http.FileServer(http.Dir("testdata"))))
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"peer": {id.PeerID().String()}, "account": {hex.EncodeToString(id.PublicKey())}}
	p := newPage(t, bctx, "jsunit", true)
	p.do("open the test page", chromedpNavigate(srv.URL+"/test/jsunit.html?"+q.Encode()))
	p.wait("the unit tests to finish", `Array.isArray(window.results)`)
	type result struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	}
	rs := evalJS[[]result](p, `window.results`)
	if len(rs) < 10 {
		t.Fatalf("only %d JavaScript tests ran", len(rs))
	}
	for _, r := range rs {
		if !r.OK {
			t.Errorf("%s: %s", r.Name, r.Detail)
		}
	}
	p.checkConsole()
	t.Logf("%d JavaScript unit tests ran in %s", len(rs), chromePath)
}
