package webtest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/diary"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/lists"
	"github.com/banyan-mesh/banyan/node/moments"
)

// itemTexts is an expression: the texts of a list's items on the page, in
// order, ticked ones marked with "+".
func itemTexts(title string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('section.shared-list')].filter(s => s.querySelector('h2').textContent === %s).flatMap(s => [...s.querySelectorAll('li.item')].map(li => (li.querySelector('input').checked ? '+' : '') + li.querySelector('.item-text').textContent)).join('|')`, js(title))
}

// TestBrowserListsAndSchedule has Amina and Bo share a shopping list in a
// group and answer an event, each in a browser on their own node.
func TestBrowserListsAndSchedule(t *testing.T) {
	bctx := newBrowser(t)
	dir := t.TempDir()
	amina := startNode(t, dir, "Amina")
	bo := startNode(t, dir, "Bo", "--peer", amina.info.Addrs[0])
	ga := groupchat.NewClient(amina.client)
	g, err := ga.Create(amina.ctx(), "Family")
	if err != nil {
		t.Fatal(err)
	}
	in, err := ga.Invite(amina.ctx(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groupchat.NewClient(bo.client).Join(bo.ctx(), in.Code); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both nodes in the group's topic", func() (bool, string) {
		gs, err := groupchat.NewClient(bo.client).Groups(bo.ctx())
		ps, _ := bo.client.Peers(bo.ctx())
		return err == nil && len(gs) == 1 && gs[0].Peers > 0 && slices.ContainsFunc(ps, func(p api.Peer) bool { return p.PeerID == amina.info.PeerID }), fmt.Sprint(gs, err)
	})
	pa := newPage(t, bctx, "amina", true)
	pb := newPage(t, bctx, "bo", true)
	open(pa, amina)
	open(pb, bo)

	t.Run("lists", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/group/" + g.ID)
		pa.click("#group-lists")
		pa.wait("the lists screen", `!!document.querySelector('#no-lists')`)
		pa.typeInto("#list-title", "Market")
		pa.click(`form[aria-labelledby="new-list"] button[type="submit"]`)
		pa.wait("the new list", `!!document.querySelector('section.shared-list.shopping')`)
		for _, item := range []string{"rice", "palm oil", "<b>soap</b>"} {
			pa.typeInto("section.shared-list input[id^='add-']", item)
			pa.click("form.add-item button[type='submit']")
			pa.wait(item+" on the list", itemTexts("Market")+`.split('|').includes(`+js(item)+`)`)
		}
		pb.goTo("#/lists/" + g.ID)
		pb.wait("Amina's list on Bo's page", itemTexts("Market")+` === 'rice|palm oil|<b>soap</b>'`)
		if n := evalJS[int](pb, `document.querySelectorAll('section.shared-list b').length`); n != 0 {
			t.Errorf("an item's text made %d elements", n)
		}
		// Bo ticks rice; Amina sees it, and moves soap to the top.
		pb.click(`li.item:first-child input[type=checkbox]`)
		pa.wait("Bo's tick on Amina's page", itemTexts("Market")+` === '+rice|palm oil|<b>soap</b>'`)
		pa.click(`li.item:nth-child(3) button.up`)
		pa.wait("the first move done", itemTexts("Market")+` === '+rice|<b>soap</b>|palm oil' && !document.querySelector('li.item:nth-child(2) button.up').disabled`)
		pa.click(`li.item:nth-child(2) button.up`)
		pb.wait("Amina's move on Bo's page", itemTexts("Market")+` === '<b>soap</b>|+rice|palm oil'`)
		pb.click(`li.item:nth-child(3) button.remove`)
		pb.wait("the question", `!!document.querySelector('li.item:nth-child(3) dialog[open]')`)
		pb.click(`li.item:nth-child(3) dialog[open] button.danger`)
		pa.wait("Bo's removal on Amina's page", itemTexts("Market")+` === '<b>soap</b>|+rice'`)
		// Amina renames rice.
		pa.click(`li.item:nth-child(2) button.edit`)
		evalJS[bool](pa, `(document.querySelector('li.item:nth-child(2) input[name=text]').value = '', true)`)
		pa.typeInto(`li.item:nth-child(2) input[name=text]`, "brown rice"+kb.Enter)
		pb.wait("Amina's edit on Bo's page", itemTexts("Market")+` === '<b>soap</b>|+brown rice'`)
		got, err := lists.NewClient(bo.client).List(bo.ctx(), g.ID, "Market")
		if err != nil || len(got.Items) != 2 || !got.Items[1].Done || got.Items[1].Text != "brown rice" {
			t.Fatalf("Bo's node: %+v, %v", got, err)
		}
		for _, w := range []struct {
			name string
			w, h int64
		}{{"lists-1280", 1280, 900}, {"lists-360", 360, 740}} {
			pa.resize(w.w, w.h)
			pa.wait("the list at "+w.name, `document.querySelector('section.shared-list').getBoundingClientRect().width > 0`)
			pa.checkLayout(w.name)
			pa.fullScreenshot(w.name)
		}
		pa.resize(1280, 900)
		pa.checkConsole()
		pb.checkConsole()
	})

	t.Run("schedule", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/schedule")
		pa.wait("the empty schedule", `!!document.querySelector('#no-events')`)
		pa.typeInto("#event-title", "Harvest feast")
		// Half an hour from now, as the date-and-time field writes it.
		evalJS[bool](pa, `(() => { const d = new Date(Date.now() + 30*60000); const p = (n) => String(n).padStart(2, '0');
			const el = document.querySelector('#event-start'); el.value = d.getFullYear() + '-' + p(d.getMonth()+1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
			el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`)
		pa.typeInto("#event-place", "the school")
		pa.click(`form#event button[type="submit"]`)
		pa.wait("the event on Amina's schedule", `[...document.querySelectorAll('.event-title')].some(e => e.textContent === 'Harvest feast')`)
		pa.wait("Amina's reminder on her schedule", `document.querySelector('#reminders')?.textContent.includes('Harvest feast')`)

		pb.goTo("#/schedule")
		pb.wait("the event on Bo's schedule", `[...document.querySelectorAll('.event-title')].some(e => e.textContent === 'Harvest feast')`)
		pb.click(`.event button[data-answer="going"]`)
		pb.wait("Bo's answer pressed", `document.querySelector('.event button[data-answer="going"]').getAttribute('aria-pressed') === 'true'`)
		pa.wait("Bo going on Amina's page", `document.querySelector('.event-people').textContent.includes('1 going')`)
		// Bo goes, so his node reminds him; the reminder reaches his page
		// on the event stream, wherever he is.
		pb.goTo("#/people")
		pb.wait("the reminder banner on Bo's page", `document.querySelector('#reminder')?.textContent.includes('Harvest feast')`)
		es, err := events.NewClient(amina.client).Events(amina.ctx(), g.ID)
		if err != nil || len(es) != 1 || len(es[0].Going) != 1 || es[0].Going[0].PeerID != bo.info.PeerID {
			t.Fatalf("Amina's node: %+v, %v", es, err)
		}
		pa.goTo("#/schedule")
		for _, w := range []struct {
			name string
			w, h int64
		}{{"schedule-1280", 1280, 900}, {"schedule-360", 360, 740}} {
			pa.resize(w.w, w.h)
			pa.wait("the schedule at "+w.name, `document.querySelector('.event').getBoundingClientRect().width > 0`)
			pa.checkLayout(w.name)
			pa.fullScreenshot(w.name)
		}
		pa.resize(1280, 900)
		// Amina calls it off; it leaves Bo's schedule.
		pa.click(".event button.cancel-event")
		pa.click("dialog[open] button.danger")
		pa.wait("the event off Amina's schedule", `!!document.querySelector('#no-events')`)
		pb.goTo("#/schedule")
		pb.wait("the event off Bo's schedule", `!!document.querySelector('#no-events')`)
		pa.checkConsole()
		pb.checkConsole()
	})

	t.Run("diary", func(t *testing.T) {
		pa.t = t
		pa.goTo("#/schedule")
		pa.click("#to-diary")
		pa.wait("the empty diary", `!!document.querySelector('#no-entries')`)
		entries := `[...document.querySelectorAll('.entry .entry-text')].map(e => e.textContent).join('|')`
		pa.typeInto("#diary-text", "The mango tree flowered")
		pa.click(`form[aria-labelledby="diary-write"] button[type="submit"]`)
		pa.wait("the first entry", entries+` === 'The mango tree flowered'`)
		pa.typeInto("#diary-text", "<i>rain</i> all day")
		pa.click(`form[aria-labelledby="diary-write"] button[type="submit"]`)
		pa.wait("both entries", `document.querySelectorAll('.entry').length === 2`)
		if n := evalJS[int](pa, `document.querySelectorAll('.entry i').length`); n != 0 {
			t.Errorf("an entry's text made %d elements", n)
		}
		pa.typeInto("#diary-q", "MANGO")
		pa.click(`form[role="search"] button[type="submit"]`)
		pa.wait("the search to find one entry", entries+` === 'The mango tree flowered'`)
		for _, w := range []struct {
			name string
			w, h int64
		}{{"diary-1280", 1280, 900}, {"diary-360", 360, 740}} {
			pa.resize(w.w, w.h)
			pa.wait("the diary at "+w.name, `document.querySelector('.entry').getBoundingClientRect().width > 0`)
			pa.checkLayout(w.name)
			pa.fullScreenshot(w.name)
		}
		pa.resize(1280, 900)
		// Shared as a moment, the entry stays in the diary.
		pa.click(".entry button.share")
		pa.click("dialog[open] .actions button:not(.secondary)")
		pa.wait("the entry to be shared", `document.querySelector('.entry .done')?.textContent.startsWith('Shared with your contacts')`)
		feed, err := moments.NewClient(amina.client).Feed(amina.ctx(), 10, "")
		if err != nil || len(feed.Moments) != 1 || feed.Moments[0].Text != "The mango tree flowered" {
			t.Fatalf("Amina's moments after sharing an entry: %+v, %v", feed, err)
		}
		pa.click(".entry button.secondary:not(.share)")
		pa.click("dialog[open] button.danger")
		pa.wait("the entry deleted", `!!document.querySelector('#no-entries')`)
		mine, err := diary.NewClient(amina.client).List(amina.ctx(), "", 10)
		if err != nil || len(mine) != 1 || mine[0].Text != "<i>rain</i> all day" {
			t.Fatalf("Amina's diary: %+v, %v", mine, err)
		}
		if bos, err := diary.NewClient(bo.client).List(bo.ctx(), "", 10); err != nil || len(bos) != 0 {
			t.Fatalf("Bo's diary: %+v, %v", bos, err)
		}
		pa.checkConsole()
	})

	t.Run("event to contacts", func(t *testing.T) {
		pa.t, pb.t = t, t
		befriend(t, amina, bo)
		pa.goTo("#/schedule")
		pa.choose("#event-group", "contacts")
		pa.wait("what contacts see, said", `document.querySelector('form#event .hint')?.textContent.includes('someone you add later sees it')`)
		pa.typeInto("#event-title", "Mango picking")
		evalJS[bool](pa, `(() => { const d = new Date(Date.now() + 48*3600000); const p = (n) => String(n).padStart(2, '0');
			const el = document.querySelector('#event-start'); el.value = d.getFullYear() + '-' + p(d.getMonth()+1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
			el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`)
		pa.click(`form#event button[type="submit"]`)
		pa.wait("the event to contacts on Amina's schedule", `[...document.querySelectorAll('.event')].some(e => e.querySelector('.event-title').textContent === 'Mango picking' && e.querySelector('.event-when').textContent.includes('your contacts'))`)
		pb.goTo("#/schedule")
		pb.wait("the event on Bo's schedule, as Amina's contacts'", `[...document.querySelectorAll('.event')].some(e => e.querySelector('.event-title').textContent === 'Mango picking' && e.querySelector('.event-when').textContent.includes("'s contacts"))`)
		if n := evalJS[int](pb, `document.querySelectorAll('.event button.edit-event').length`); n != 0 {
			t.Errorf("Bo is offered to change Amina's event (%d buttons)", n)
		}
		// Amina changes it; Bo sees the new version.
		pa.click(".event button.edit-event")
		pa.wait("the edit form, filled in", `document.querySelector('.event form.event-form input[name=title]')?.value === 'Mango picking'`)
		evalJS[bool](pa, `(document.querySelector('.event form.event-form input[name=title]').value = '', true)`)
		pa.typeInto(".event form.event-form input[name=title]", "Mango picking at the upper orchard")
		pa.click(`.event form.event-form button[type="submit"]`)
		pa.wait("the new version on Amina's page", `[...document.querySelectorAll('.event-title')].some(e => e.textContent === 'Mango picking at the upper orchard')`)
		pb.wait("the new version on Bo's page", `[...document.querySelectorAll('.event-title')].some(e => e.textContent === 'Mango picking at the upper orchard')`)
		es, err := events.NewClient(bo.client).Schedule(bo.ctx())
		if err != nil || len(es) != 1 || !es[0].Contacts || es[0].Title != "Mango picking at the upper orchard" {
			t.Fatalf("Bo's node: %+v, %v", es, err)
		}
		pa.fullScreenshot("schedule-contacts")
		pa.checkConsole()
		pb.checkConsole()
	})
}
