package webtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/banyan-mesh/banyan/node/groupchat"
)

// historySize is how many messages the history benchmark scrolls through.
const historySize = 10000

// BenchmarkHistoryView opens a group of 10,000 messages in a real node's
// page and measures the time to the first message on screen, the time to
// scroll back through the whole history (loading older pages on the way)
// and down again, the most rows ever in the DOM, and the page's JS heap.
//
//	go test ./node/web/webtest -run '^$' -bench HistoryView -benchtime 1x
func BenchmarkHistoryView(b *testing.B) {
	bctx := newBrowser(b)
	n := startNode(b, b.TempDir(), "Bench")
	g, err := groupchat.NewClient(n.client).Create(n.ctx(), "big village")
	if err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > historySize {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				text := fmt.Sprintf("message %d: %s", i, strings.Repeat("words to read ", int(i%7)))
				_, err := groupchat.NewClient(n.client).Send(ctx, g.ID, text)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d messages through the API in %v", historySize, time.Since(seedStart).Round(time.Millisecond))

	p := newPage(b, bctx, "bench", true)
	open(p, n)
	p.resize(1280, 900)
	if _, err := chromedp.Call(p.ctx, performance.Enable, performance.EnableParams{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var paint, back, down, steps, maxRows, heap float64
	for range b.N {
		// Load the conversation as a fresh page: navigation start to the
		// first message rows on screen.
		p.do("open the conversation", chromedp.Navigate("http://"+n.addr+"/#/chat/g/"+g.ID))
		paint = evalJS[float64](p, `new Promise(done => { const f = () => document.querySelector('#messages li') ? done(performance.now()) : requestAnimationFrame(f); f(); })`)
		// Scroll to the top until the first message of all is there.
		r := evalJS[map[string]float64](p, `new Promise(done => {
			const el = document.querySelector('#messages'), t0 = performance.now();
			let rows = 0;
			const f = () => {
				rows = Math.max(rows, el.querySelectorAll('li').length);
				const first = el.querySelector('li[aria-posinset="1"]');
				if (first && first.getAttribute('aria-setsize') === '`+fmt.Sprint(historySize)+`' && first.querySelector('.start') && el.scrollTop === 0) return done({ms: performance.now() - t0, rows});
				el.scrollTop = 0;
				requestAnimationFrame(f);
			};
			f();
		})`)
		back, maxRows = r["ms"], r["rows"]
		// And down again, a screenful per frame, to the newest.
		r = evalJS[map[string]float64](p, `new Promise(done => {
			const el = document.querySelector('#messages'), t0 = performance.now();
			let rows = 0, steps = 0;
			const f = () => {
				rows = Math.max(rows, el.querySelectorAll('li').length);
				if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) return done({ms: performance.now() - t0, rows, steps});
				el.scrollTop += el.clientHeight;
				steps++;
				requestAnimationFrame(f);
			};
			f();
		})`)
		down = r["ms"]
		maxRows = max(maxRows, r["rows"])
		steps = r["steps"]
		m, err := chromedp.Call(p.ctx, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range m.Metrics {
			if x.Name == "JSHeapUsedSize" {
				heap = x.Value
			}
		}
	}
	b.StopTimer()
	if !evalJS[bool](p, `document.querySelector('#messages li:last-child .text').textContent.startsWith('message ')`) {
		b.Fatal("the newest message is not shown at the end")
	}
	b.ReportMetric(paint, "first-paint-ms")
	b.ReportMetric(back, "scroll-back-all-ms")
	b.ReportMetric(down, "scroll-down-all-ms")
	b.ReportMetric(down/max(steps, 1), "ms/screenful")
	b.ReportMetric(maxRows, "max-dom-rows")
	b.ReportMetric(heap/1e6, "js-heap-MB")
	p.checkConsole()
}
