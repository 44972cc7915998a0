package webtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/private"
)

// js quotes s as a JavaScript string.
func js(s string) string { return fmt.Sprintf("%q", s) }

// hasMessage is a condition: a message with exactly this text is on the
// page's message list.
func hasMessage(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#messages li .text')].some(e => e.textContent === %s)`, js(text))
}

// open signs a page in with the node's link, as 'banyan open' does.
func open(p *page, n *nodeProc) {
	p.t.Helper()
	p.do("open "+n.name+"'s page", chromedp.Navigate(n.url()))
	p.wait("the chat list", `!!document.querySelector('.chat-list')`)
	// The token is gone from the address bar, and the session cookie is
	// out of the page's reach.
	if evalJS[bool](p, `location.href.includes('token')`) {
		p.fail("the token is still in the address: %s", evalJS[string](p, `location.href`))
	}
	if evalJS[bool](p, `document.cookie.includes('banyan_session')`) {
		p.fail("the session cookie is readable by the page")
	}
}

// TestBrowserVillage runs two real nodes, Amina's and Bo's, and a browser
// page on each: they chat in a group and privately, pay each other, and
// Amina's node restarts under her open page. Bo's node is the wallet's
// guarantor.
func TestBrowserVillage(t *testing.T) {
	bctx := newBrowser(t)
	dir := t.TempDir()
	boID := initHome(t, filepath.Join(dir, "bo"))
	amina := startNode(t, dir, "Amina", "--wallet-guarantor", boID)
	bo := startNode(t, dir, "Bo", "--wallet-guarantor", boID, "--peer", amina.info.Addrs[0])
	waitFor(t, "Bo to connect to Amina", func() (bool, string) {
		ps, err := bo.client.Peers(bo.ctx())
		return err == nil && slices.ContainsFunc(ps, func(p api.Peer) bool { return p.PeerID == amina.info.PeerID }), fmt.Sprint(ps, err)
	})

	pa := newPage(t, bctx, "amina", true)
	pb := newPage(t, bctx, "bo", true)
	open(pa, amina)
	open(pb, bo)
	evalJS[bool](pa, `(window.sameDocument = true)`)

	var groupID string
	t.Run("group chat", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/chats/new")
		pa.typeInto("#group-name", "Family")
		pa.click(`form[aria-labelledby="new-group"] button[type="submit"]`)
		pa.wait("the group's page", `location.hash.startsWith('#/group/')`)
		groupID = strings.TrimPrefix(evalJS[string](pa, `location.hash`), "#/group/")
		pa.wait("the invite link", `(document.querySelector('#invite-link')||{}).value?.startsWith('banyan:g1.')`)
		pa.wait("the invite QR code", `document.querySelector('img.qr')?.complete && document.querySelector('img.qr').naturalWidth > 100`)
		link := evalJS[string](pa, `document.querySelector('#invite-link').value`)

		pb.goTo("#/chats/new")
		pb.typeInto("#invite-code", link)
		pb.click(`form[aria-labelledby="join-group"] button[type="submit"]`)
		pb.wait("the joined group's conversation", js("#/chat/g/"+groupID)+` === location.hash`)
		waitFor(t, "both nodes to see each other in the group", func() (bool, string) {
			ga, _ := groupchat.NewClient(amina.client).Groups(amina.ctx())
			gb, _ := groupchat.NewClient(bo.client).Groups(bo.ctx())
			return len(ga) == 1 && len(gb) == 1 && ga[0].Peers > 0 && gb[0].Peers > 0, fmt.Sprint(ga, gb)
		})

		pa.goTo("#/chat/g/" + groupID)
		pa.typeInto("#composer", "Hello from Amina"+kb.Enter)
		pa.wait("Amina's own message", hasMessage("Hello from Amina"))
		pb.wait("Amina's message to appear live on Bo's page", hasMessage("Hello from Amina"))
		pb.wait("the live region to announce it", `document.querySelector('#announce').textContent.includes('Hello from Amina')`)
		if got := evalJS[string](pb, `document.querySelector('#messages').getAttribute('aria-label') + '|' + document.querySelector('#messages ul').tagName + '|' + document.querySelector('#announce').getAttribute('aria-live')`); got != "Messages in Family|UL|polite" {
			t.Errorf("message list semantics: %q", got)
		}

		// Shift+Enter starts a new line; Enter sends.
		pb.typeInto("#composer", "line one")
		pb.do("Shift+Enter", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)))
		pb.typeInto("#composer", "line two"+kb.Enter)
		pa.wait("Bo's two-line message on Amina's page", hasMessage("line one\nline two"))

		// Text from the network is text: markup in a message runs nothing.
		evil := `<img src=x onerror=alert(1)><script>window.pwned=1</script>`
		pa.typeInto("#composer", evil+kb.Enter)
		pb.wait("the message with markup to show as text", hasMessage(evil))
		if n := evalJS[int](pb, `document.querySelectorAll('#messages img, #messages script').length`); n != 0 {
			t.Errorf("a message made %d elements", n)
		}
		if evalJS[bool](pb, `!!window.pwned`) {
			t.Error("script from a message ran")
		}

		// Amina's message is soon known to be held by Bo's node.
		pa.wait(`Amina's first message to be "held by 1"`, `[...document.querySelectorAll('#messages .mine')].some(e => e.querySelector('.text')?.textContent === 'Hello from Amina' && e.querySelector('.status')?.textContent.includes('held by 1'))`)

		// Away from the conversation, new messages are counted as unread.
		pb.goTo("#/people")
		if _, err := groupchat.NewClient(amina.client).Send(amina.ctx(), groupID, "while you look away"); err != nil {
			t.Fatal(err)
		}
		pb.wait("an unread count on Chats", `document.querySelector('.tab[href="#/chats"] .badge')?.textContent === '1'`)
		pb.goTo("#/chats")
		pb.wait("the chat list to show the last message", `document.querySelector('.chat-last')?.textContent.includes('while you look away')`)
		pa.checkConsole()
		pb.checkConsole()
	})

	t.Run("private message read", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/people")
		pa.wait("Amina's contact link", `(document.querySelector('#my-link')||{}).value?.startsWith('banyan:c1.')`)
		pa.wait("Amina's QR code", `document.querySelector('img.qr')?.complete && document.querySelector('img.qr').naturalWidth > 100`)
		link := evalJS[string](pa, `document.querySelector('#my-link').value`)

		pb.goTo("#/people")
		pb.typeInto("#contact-code", link)
		pb.click(`form[aria-labelledby="add-title"] button[type="submit"]`)
		pb.wait("the request to be sent", `document.querySelector('form[aria-labelledby="add-title"] .done')?.textContent.includes('Request sent')`)

		pa.wait("Bo's request on Amina's page", `!!document.querySelector('button[aria-label^="Accept"]')`)
		pa.click(`button[aria-label^="Accept"]`)
		pb.wait("Amina to be a contact on Bo's page", `!!document.querySelector('a[aria-label^="Write to"]')`)
		pb.click(`a[aria-label^="Write to"]`)
		pb.wait("the private conversation", js("#/chat/d/"+amina.info.PeerID)+` === location.hash`)
		pb.typeInto("#composer", "See you at the market"+kb.Enter)
		pb.wait("Bo's message as sent", hasMessage("See you at the market"))

		pa.goTo("#/chats")
		pa.wait("Bo's conversation in Amina's chat list", `[...document.querySelectorAll('.chat-last')].some(e => e.textContent.includes('See you at the market'))`)
		pa.goTo("#/chat/d/" + bo.info.PeerID)
		pa.wait("Bo's message on Amina's page", hasMessage("See you at the market"))
		pb.wait(`Bo's message to be marked "read"`, `[...document.querySelectorAll('#messages .mine .status')].some(e => e.textContent.includes('read'))`)
		pa.checkConsole()
		pb.checkConsole()
	})

	t.Run("wallet", func(t *testing.T) {
		pa.t, pb.t = t, t
		// Bo, the guarantor, gives Amina credit.
		pb.goTo("#/wallet")
		pb.choose("#grant-to", amina.info.PeerID)
		pb.typeInto("#grant-limit", "500")
		pb.click(`form[aria-labelledby="grant-title"] button[type="submit"]`)
		pb.wait("the credit to be set", `document.querySelector('form[aria-labelledby="grant-title"] .done')?.textContent.includes('500')`)

		// Bo asks for 120; Amina pays the link.
		pb.typeInto("#ask-amount", "120")
		pb.typeInto("#ask-memo", "two loaves")
		pb.click(`form[aria-labelledby="ask-title"] button[type="submit"]`)
		pb.wait("the payment request link", `(document.querySelector('#request-link')||{}).value?.startsWith('banyan:pay1.')`)
		pb.wait("the payment request QR code", `document.querySelector('#request-result img.qr')?.complete && document.querySelector('#request-result img.qr').naturalWidth > 100`)
		link := evalJS[string](pb, `document.querySelector('#request-link').value`)

		pa.goTo("#/wallet")
		pa.wait("Amina's credit", `document.querySelector('#spendable')?.textContent.includes('500')`)
		pa.typeInto("#payreq-link", link)
		pa.click(`form[aria-labelledby="payreq-title"] button[type="submit"]`)
		pa.wait("the confirmation dialog", `!!document.querySelector('dialog[open]')`)
		pa.click(`dialog[open] .actions button:not(.secondary)`)
		pa.wait("the payment to be done", `document.querySelector('form[aria-labelledby="payreq-title"] .done')?.textContent.includes('Paid 120')`)
		pa.wait("Amina's balance to go down", `document.querySelector('#balance .amount').textContent === '−120 village'`)
		pb.wait("Bo's balance to go up", `document.querySelector('#balance .amount').textContent === '120 village'`)
		pb.wait("the payment in Bo's statement", `[...document.querySelectorAll('.statement tbody tr')].some(r => r.textContent.includes('Received') && r.textContent.includes('two loaves') && r.textContent.includes('+120'))`)
		csv := evalJS[string](pb, `fetch('/v1/wallet/history?csv=1').then(r => r.text())`)
		if !strings.HasPrefix(csv, "time,entry,") || !strings.Contains(csv, "two loaves") {
			t.Errorf("statement CSV from the page: %q", csv)
		}

		// Bo sends a red envelope in the group; Amina claims a share.
		pb.choose("#env-group", groupID)
		pb.typeInto("#env-total", "10")
		pb.typeInto("#env-shares", "2")
		pb.click(`form[aria-labelledby="env-title"] button[type="submit"]`)
		pb.wait("the envelope to be sent", `document.querySelector('form[aria-labelledby="env-title"] .done')?.textContent.includes('Sent a red envelope')`)
		pa.goTo("#/chat/g/" + groupID)
		pa.wait("the red envelope in the group", `[...document.querySelectorAll('#messages .envelope button')].some(b => b.textContent === 'Claim a share')`)
		pa.click(`#messages .envelope button`)
		pa.wait("the claim to be counted, with when the shares are dealt", `/1 of 2 shares claimed/.test(document.querySelector('#messages .envelope .env-note')?.textContent) && !document.querySelector('#messages .envelope button')`)
		pa.checkConsole()
		pb.checkConsole()
	})

	t.Run("another site cannot use the API", func(t *testing.T) {
		pa.t = t
		_, port, _ := strings.Cut(amina.addr, ":")
		api := "http://127.0.0.1:" + port
		evilPage := `<!doctype html><title>evil</title><body><iframe id="f" src="` + api + `/"></iframe><script>
window.results = {};
fetch('` + api + `/v1/node', {credentials: 'include'}).then(r => r.text()).then(t => results.read = 'read: ' + t, e => results.read = 'blocked: ' + e);
fetch('` + api + `/v1/groups', {method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"name":"pwned"}'}).then(() => results.post = 'sent', e => results.post = 'blocked: ' + e);
</script></body>`
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, evilPage) }))
		defer evil.Close()
		u, _ := url.Parse(evil.URL)
		for _, origin := range []string{"http://evil.test:" + u.Port(), evil.URL} { // another site; another port of this machine
			// The tab shares Amina's cookies, as a page she opened would.
			p := newPage(t, pa.ctx, "evil", false)
			p.do("open the other page", chromedp.Navigate(origin+"/"))
			p.wait("its requests to finish", `window.results && results.read && results.post`)
			if got := evalJS[string](p, `results.read`); !strings.HasPrefix(got, "blocked") {
				t.Errorf("%s read the API: %s", origin, got)
			}
			for _, f := range p.frameURLs()[1:] {
				if strings.HasPrefix(f, api) {
					t.Errorf("%s framed the UI: frame at %s", origin, f)
				}
			}
			waitFor(t, "Chrome to report the refused frame", func() (bool, string) {
				return p.consoleHas("frame-ancestors"), "no frame-ancestors message in the console"
			})
		}
		gs, err := groupchat.NewClient(amina.client).Groups(amina.ctx())
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.Name == "pwned" {
				t.Error("a page of another site created a group")
			}
		}
		// DNS rebinding: a name that resolves to this machine is refused.
		p := newPage(t, pa.ctx, "rebind", false)
		p.do("open the UI under another name", chromedp.Navigate("http://evil.test:"+port+"/"))
		if got := evalJS[string](p, `document.body.innerText`); !strings.Contains(got, "refused") {
			t.Errorf("the UI answered under the name evil.test: %q", got)
		}
	})

	t.Run("settings", func(t *testing.T) {
		pa.t = t
		pa.goTo("#/node")
		pa.wait("the settings", `!!document.querySelector('#read-receipts')`)
		// The name came from --name: the page says so and does not offer
		// to change it.
		if got := evalJS[string](pa, `document.querySelector('#my-name').disabled + '|' + document.querySelector('form[aria-labelledby="settings-title"]').innerText`); !strings.HasPrefix(got, "true|") || !strings.Contains(got, "Set by --name") {
			t.Errorf("a name set by a flag: %q", got)
		}
		pa.wait("storage to be shown", `!!document.querySelector('#store-bytes') && !/^0 bytes/.test(document.querySelector('#store-bytes').textContent)`)
		pa.click("#read-receipts")
		pa.click(`form[aria-labelledby="settings-title"] button[type="submit"]`)
		pa.wait("the change to be saved", `document.querySelector('form[aria-labelledby="settings-title"] .done')?.textContent === 'Saved.'`)
		var got api.Settings
		if err := amina.client.Do(amina.ctx(), "GET", "/v1/settings", nil, &got); err != nil {
			t.Fatal(err)
		}
		if got.ReadReceipts || got.Name != "Amina" {
			t.Errorf("after turning read receipts off: %+v", got)
		}
		// Both count credit by Bo: the unit's code is shown, no warning.
		pa.goTo("#/wallet")
		pa.wait("the unit's code", `(document.querySelector('#unit-code')||{}).value?.startsWith('banyan:unit1.')`)
		if evalJS[bool](pa, `!!document.querySelector('#disagree')`) {
			t.Error("nodes of one unit are shown as disagreeing")
		}
		pa.checkConsole()
	})

	t.Run("screenshots", func(t *testing.T) {
		pa.t = t
		// More private messages of Amina's than a screen holds, each with
		// its status (words for screen readers only), so that the
		// conversation has to scroll.
		for i := range 20 {
			if _, err := private.NewClient(amina.client).Send(amina.ctx(), bo.info.PeerID, fmt.Sprintf("market list, line %d", i+1)); err != nil {
				t.Fatal(err)
			}
		}
		screens := []struct{ name, route, ready string }{
			{"chats", "#/chats", `!!document.querySelector('.chat')`},
			{"conversation", "#/chat/g/" + groupID, `!!document.querySelector('#messages li')`},
			{"private", "#/chat/d/" + bo.info.PeerID, hasMessage("market list, line 20")},
			{"group", "#/group/" + groupID, `document.querySelector('img.qr')?.naturalWidth > 0`},
			{"new-group", "#/chats/new", `!!document.querySelector('#group-name')`},
			{"people", "#/people", `document.querySelector('img.qr')?.naturalWidth > 0`},
			{"wallet", "#/wallet", `!!document.querySelector('.statement')`},
			{"node", "#/node", `!!document.querySelector('#peer-count')`},
		}
		for _, w := range []struct{ w, h int64 }{{1280, 900}, {360, 740}} {
			pa.resize(w.w, w.h)
			for _, s := range screens {
				pa.goTo(s.route)
				pa.wait(s.name+" to be ready", s.ready)
				pa.checkLayout(fmt.Sprintf("%s at %d px", s.name, w.w))
				// A conversation scrolls inside itself, with the composer always
				// in view: the page itself never scrolls.
				if s.name == "conversation" || s.name == "private" {
					if over := evalJS[int](pa, `document.documentElement.scrollHeight - window.innerHeight`); over > 0 {
						t.Errorf("%s at %d px: the page is %d px taller than the window", s.name, w.w, over)
					}
				}
				pa.fullScreenshot(fmt.Sprintf("%s-%d", s.name, w.w))
			}
		}
		pa.resize(1280, 900)
		t.Logf("screenshots in %s", shotsDir)
	})

	t.Run("node restart", func(t *testing.T) {
		pa.t = t
		pa.goTo("#/chat/g/" + groupID)
		pa.wait("the conversation", hasMessage("Hello from Amina"))
		amina.stop()
		pa.wait("the page to say it is reconnecting", `!!document.querySelector('#reconnecting')`)
		if _, err := groupchat.NewClient(bo.client).Send(bo.ctx(), groupID, "said while Amina's node was off"); err != nil {
			t.Fatal(err)
		}
		amina.restart()
		pa.wait("the page to reconnect", `!document.querySelector('#reconnecting')`)
		pa.wait("the message sent meanwhile to arrive", hasMessage("said while Amina's node was off"))
		if _, err := groupchat.NewClient(bo.client).Send(bo.ctx(), groupID, "and after"); err != nil {
			t.Fatal(err)
		}
		pa.wait("a live message after the restart", hasMessage("and after"))
		var set api.Settings
		if err := amina.client.Do(amina.ctx(), "GET", "/v1/settings", nil, &set); err != nil {
			t.Fatal(err)
		}
		if set.ReadReceipts {
			t.Error("read receipts turned off in the page are on again after a restart")
		}
		if !evalJS[bool](pa, `window.sameDocument === true`) {
			t.Error("the page was reloaded")
		}
		pa.checkConsole()
	})

	t.Run("signed out", func(t *testing.T) {
		// A browser without the node's link is told how to get in.
		p := newPage(t, bctx, "stranger", true)
		p.do("open the page without a token", chromedpNavigate("http://"+amina.addr+"/"))
		p.wait("the sign-in help", `!!document.querySelector('#signed-out')`)
		for _, w := range []struct{ w, h int64 }{{1280, 900}, {360, 740}} {
			p.resize(w.w, w.h)
			p.checkLayout(fmt.Sprintf("signed out at %d px", w.w))
			if over := evalJS[int](p, `document.documentElement.scrollHeight - window.innerHeight`); over > 0 {
				t.Errorf("signed out at %d px: the page is %d px taller than the window", w.w, over)
			}
			p.screenshot(fmt.Sprintf("signed-out-%d", w.w))
		}
		p.checkConsole()
	})

	t.Run("block and unblock", func(t *testing.T) {
		pa.t = t
		pa.goTo("#/people")
		pa.wait("Bo among the contacts", `!!document.querySelector('button[aria-label^="Block"]')`)
		pa.click(`button[aria-label^="Block"]`)
		pa.wait("the question", `[...document.querySelectorAll('dialog')].some(d => d.open)`)
		pa.click(`dialog[open] button.danger`)
		pa.wait("Bo under Blocked", `!!document.querySelector('#blocked-title') && !!document.querySelector('button[aria-label^="Unblock"]')`)
		pa.click(`button[aria-label^="Unblock"]`)
		pa.wait("Bo a contact again", `!document.querySelector('#blocked-title') && !!document.querySelector('button[aria-label^="Block"]')`)
		c, err := private.NewClient(amina.client).Contacts(amina.ctx())
		if err != nil || len(c) != 1 || c[0].State != private.ContactAccepted {
			t.Errorf("Amina's contacts after unblocking: %+v, %v", c, err)
		}
		pa.checkConsole()
	})
}
