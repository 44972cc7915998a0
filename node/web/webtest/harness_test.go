package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 45 * time.Second

var (
	chromePath string // "" when no browser was found
	banyanBin  string
	testEnv    []string
	shotsDir   string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	chromePath = findChrome()
	if chromePath == "" {
		return m.Run() // every test skips itself
	}
	dir, err := os.MkdirTemp("", "banyan-webtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	banyanBin = filepath.Join(dir, "banyan")
	build := exec.Command(goTool(), "build", "-o", banyanBin, "github.com/banyan-mesh/banyan/cmd/banyan")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build banyan: %v\n", err)
		return 1
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANYAN_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			testEnv = append(testEnv, kv)
		}
	}
	testEnv = append(testEnv, "XDG_STATE_HOME="+filepath.Join(dir, "xdg-state"))
	shotsDir = os.Getenv("BANYAN_SCREENSHOTS")
	if shotsDir == "" {
		shotsDir = filepath.Join(os.TempDir(), "banyan-screenshots")
	}
	return m.Run()
}

// findChrome returns the browser to drive: $BANYAN_CHROME, or the first of
// the usual names on $PATH.
func findChrome() string {
	if p := os.Getenv("BANYAN_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if r := os.Getenv("GOROOT"); r != "" {
		return filepath.Join(r, "bin", "go")
	}
	return "/usr/local/go/bin/go"
}

func needBrowser(t testing.TB) {
	t.Helper()
	if chromePath == "" {
		t.Skip("no Chromium or Chrome found (install Debian's chromium, or set BANYAN_CHROME to a browser): browser tests skipped")
	}
}

// newBrowser starts a headless browser for the test. evil.test resolves to
// loopback in it, so that a page can come from another site on this
// machine.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	needBrowser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.WSURLReadTimeout(60*time.Second),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromePath, err)
	}
	return bctx
}

// page is one tab. Its console and any JavaScript dialog are recorded: a
// dialog means that injected script ran.
type page struct {
	t    testing.TB
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	dialogs []string
}

// newPage opens a tab. With fresh, it has a browser context (cookies,
// storage) of its own, like another person's browser; otherwise it shares
// parent's.
func newPage(t testing.TB, parent context.Context, name string, fresh bool) *page {
	t.Helper()
	var opts []chromedp.ContextOption
	if fresh {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	p := &page{t: t, name: name, ctx: ctx}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	dialogs := chromedp.Events(ctx, cdpage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.dialogs = append(p.dialogs, ev.Message)
			p.mu.Unlock()
			// Close it, or the page stays blocked.
			_, _ = chromedp.Call(ctx, cdpage.HandleJavaScriptDialog, cdpage.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	p.resize(1280, 900)
	return p
}

// do runs actions with a deadline.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition in the page until it is true.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")",
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		p.fail("waiting for %s (%s): %v", what, cond, err)
	}
}

// fail saves a screenshot and the console, then fails the test.
func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	shot := p.screenshot("failure-" + p.name)
	p.mu.Lock()
	var lines []string
	for _, m := range p.console {
		lines = append(lines, m.String())
	}
	p.mu.Unlock()
	p.t.Fatalf("%s: %s\nscreenshot: %s\nconsole:\n%s", p.name, fmt.Sprintf(format, args...), shot, strings.Join(lines, "\n"))
}

// checkLayout reports, as errors of the test, what is wrong with the
// layout of the page shown (what names it in the messages): anything
// wider than the window, and layoutProblems.
func (p *page) checkLayout(what string) {
	p.t.Helper()
	if over := evalJS[int](p, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
		p.t.Errorf("%s: the page is %d px wider than the window", what, over)
	}
	for _, problem := range evalJS[[]string](p, layoutProblems) {
		p.t.Errorf("%s: %s", what, problem)
	}
}

// layoutProblems lists what is wrong with the layout of the page shown: a
// button lower than the 48 px docs/WEB.md promises, a checkbox or radio
// button squashed out of square, a chat's letter not in its circle.
const layoutProblems = `(() => {
  const out = [];
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const name = (el) => (el.getAttribute('aria-label') || el.textContent || el.className).trim().slice(0, 40);
  for (const b of document.querySelectorAll('button, a.button, label.button')) {
    if (!shown(b)) continue;
    const h = b.getBoundingClientRect().height;
    if (h < 47.5) out.push('button "' + name(b) + '" is ' + h.toFixed(1) + ' px high');
  }
  for (const c of document.querySelectorAll('input[type=checkbox], input[type=radio]')) {
    if (!shown(c)) continue;
    const r = c.getBoundingClientRect();
    if (Math.abs(r.width - r.height) > 1) out.push('a ' + c.type + ' is ' + r.width.toFixed(1) + ' x ' + r.height.toFixed(1) + ' px');
  }
  for (const a of document.querySelectorAll('.chat .avatar')) {
    if (!shown(a)) continue;
    const r = a.getBoundingClientRect();
    if (r.width !== 46 || r.height !== 46) out.push('a chat avatar is ' + r.width + ' x ' + r.height + ' px');
  }
  return out;
})()`

func (p *page) resize(w, h int64) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		p.t.Fatalf("%s: resize: %v", p.name, err)
	}
}

// goTo navigates to a route of the app (the part after #) without
// reloading, as a click on a link does.
func (p *page) goTo(route string) {
	p.t.Helper()
	evalJS[bool](p, fmt.Sprintf(`(location.hash = %q, true)`, route))
}

// typeInto focuses a field and types into it as a person would.
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// choose picks an option of a select, which fires its change event.
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.wait(sel+" to offer "+value, fmt.Sprintf(`[...(document.querySelector(%q)||{options:[]}).options].some(o => o.value === %q)`, sel, value))
	evalJS[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, value))
}

// screenshot saves the viewport as a PNG in the screenshots directory;
// fullScreenshot saves the whole page.
func (p *page) screenshot(name string) string { return p.shoot(name, chromedp.CaptureScreenshot()) }

func (p *page) fullScreenshot(name string) string { return p.shoot(name, chromedp.FullScreenshot(100)) }

func (p *page) shoot(name string, a chromedp.Action[[]byte]) string {
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	b, err := chromedp.Run(ctx, a)
	if err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	if err := os.MkdirAll(shotsDir, 0o755); err != nil {
		return err.Error()
	}
	path := filepath.Join(shotsDir, name+".png")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err.Error()
	}
	return path
}

// checkConsole fails the test on uncaught exceptions, policy violations and
// dialogs in the page.
func (p *page) checkConsole() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			p.t.Errorf("%s: console: %s (%s:%d)", p.name, m, m.URL, m.Line)
		}
	}
	if len(p.dialogs) > 0 {
		p.t.Errorf("%s: the page opened dialogs %q", p.name, p.dialogs)
	}
}

func (p *page) consoleHas(substr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if strings.Contains(m.Text, substr) {
			return true
		}
	}
	return false
}

// frameURLs lists the URLs of the frames in the page.
func (p *page) frameURLs() []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, cdpage.GetFrameTree, cdp.Empty{})
	if err != nil {
		p.t.Fatalf("frame tree: %v", err)
	}
	var urls []string
	var walk func(ft *cdpage.FrameTree)
	walk = func(ft *cdpage.FrameTree) {
		urls = append(urls, ft.Frame.URL+ft.Frame.URLFragment)
		for _, c := range ft.ChildFrames {
			walk(c)
		}
	}
	walk(res.FrameTree)
	return urls
}

func chromedpNavigate(u string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(u) }
