package webtest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/node/profile"
)

// befriend makes two running nodes contacts through their APIs.
func befriend(t *testing.T, a, b *nodeProc) {
	t.Helper()
	code, err := private.NewClient(a.client).Code(a.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := private.NewClient(b.client).AddContact(b.ctx(), private.AddContact{Code: code.Code}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b.name+"'s request to reach "+a.name, func() (bool, string) {
		cs, err := private.NewClient(a.client).Contacts(a.ctx())
		return err == nil && len(cs) == 1 && cs[0].State == private.ContactPending, fmt.Sprint(cs, err)
	})
	if _, err := private.NewClient(a.client).Accept(a.ctx(), b.info.PeerID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.name+"'s acceptance to reach "+b.name, func() (bool, string) {
		cs, err := private.NewClient(b.client).Contacts(b.ctx())
		return err == nil && len(cs) == 1 && cs[0].State == private.ContactAccepted, fmt.Sprint(cs, err)
	})
}

func pictureFile(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1200, 900))
	for y := range 900 {
		for x := range 1200 {
			img.Set(x, y, color.RGBA{uint8(x / 5), uint8(y / 4), 140, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mangoes.png")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hasMoment is a condition: the feed shows a moment with exactly this
// text.
func hasMoment(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('.moment .moment-text')].some(e => e.textContent === %s)`, js(text))
}

// TestBrowserProfileAndMoments: Amina sets her profile with an avatar and
// shares a moment with a picture; Bo, her contact, sees her by her
// profile's name, likes and comments on the moment live; Amina sees that,
// then deletes the moment, which leaves Bo's page.
func TestBrowserProfileAndMoments(t *testing.T) {
	bctx := newBrowser(t)
	dir := t.TempDir()
	amina := startNode(t, dir, "Amina")
	bo := startNode(t, dir, "Bo", "--peer", amina.info.Addrs[0])
	waitFor(t, "Bo to connect to Amina", func() (bool, string) {
		ps, err := bo.client.Peers(bo.ctx())
		return err == nil && slices.ContainsFunc(ps, func(p api.Peer) bool { return p.PeerID == amina.info.PeerID }), fmt.Sprint(ps, err)
	})
	befriend(t, amina, bo)
	pa := newPage(t, bctx, "amina", true)
	pb := newPage(t, bctx, "bo", true)
	open(pa, amina)
	open(pb, bo)
	pic := pictureFile(t)

	t.Run("profile", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/profile")
		pa.wait("the profile form", `!!document.querySelector('#profile-name')`)
		pa.wait("who can read a profile, said", `[...document.querySelectorAll('.hint')].some(e => e.textContent.includes('Only your contacts can read your bio and place'))`)
		pa.typeInto("#profile-name", "Amina of the well")
		pa.typeInto("#profile-place", "Lower well")
		pa.typeInto("#profile-bio", "I grow mangoes.\n<b>not bold</b>")
		pa.click("#profile-save")
		pa.wait("the saved name", `document.querySelector('#profile-shown').textContent === 'Amina of the well'`)
		pa.do("choose an avatar", chromedp.SetUploadFiles("#avatar-file", []string{pic}))
		pa.wait("the avatar", `document.querySelector('img.portrait')?.complete && document.querySelector('img.portrait').naturalWidth > 0`)
		pa.click("#profile-public")
		waitFor(t, "Amina's choice to show her card nearby", func() (bool, string) {
			p, err := profile.NewClient(amina.client).Mine(amina.ctx())
			return err == nil && p.Public, fmt.Sprint(p, err)
		})
		pa.checkLayout("profile at 1280 px")
		pa.screenshot("profile-1280")
		pa.resize(360, 780)
		pa.checkLayout("profile at 360 px")
		pa.fullScreenshot("profile-360")
		pa.resize(1280, 900)

		pb.goTo("#/person/" + amina.info.PeerID)
		// Bo named her when he added her code: his name for her wins.
		pb.wait("Amina's profile on Bo's page", `document.querySelector('main h1').textContent === 'Amina' && document.querySelector('.profile-name')?.textContent === 'Amina of the well'`)
		pb.wait("her bio as text", `document.querySelector('.profile-bio')?.textContent === 'I grow mangoes.\n<b>not bold</b>'`)
		pb.wait("her avatar", `document.querySelector('img.portrait')?.complete && document.querySelector('img.portrait').naturalWidth > 0`)
		pb.wait("a way to write to her", `document.querySelector('main a.button')?.getAttribute('href') === `+js("#/chat/d/"+amina.info.PeerID))
		if n := evalJS[int](pb, `document.querySelectorAll('.profile-bio b').length`); n != 0 {
			t.Error("the bio made elements")
		}
	})

	text := "The mangoes are ripe! <i>come</i>"
	t.Run("moments", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.goTo("#/moments")
		pa.wait("what a contact added later sees, said", `[...document.querySelectorAll('.hint')].some(e => e.textContent.includes('Someone you add later sees what you shared since'))`)
		pa.typeInto("#moment-text", text)
		pa.do("choose a picture", chromedp.SetUploadFiles("#moment-picture", []string{pic}))
		pa.click("#moment-share")
		pa.wait("Amina's moment in her feed", hasMoment(text))

		pb.goTo("#/moments")
		pb.wait("Amina's moment on Bo's page", hasMoment(text))
		pb.wait("it is new to Bo", `document.querySelector('.moment.unread .badge')?.textContent === 'New'`)
		pb.wait("its picture", `document.querySelector('.moment-picture')?.complete && document.querySelector('.moment-picture').naturalWidth > 0`)
		pb.click(".moment .like")
		pb.wait("the like to show", `document.querySelector('.moment .like').getAttribute('aria-pressed') === 'true'`)
		pb.typeInto(".moment .comment-form input", "I will bring a basket")
		pb.click(".moment .comment-form button")
		pa.wait("Bo's like on Amina's page", `document.querySelector('.moment .likes').textContent.startsWith('1 like')`)
		pa.wait("Bo's comment on Amina's page", `[...document.querySelectorAll('.moment .comments li')].some(e => e.textContent.includes('I will bring a basket'))`)
		// Amina never named Bo: he is the name he gave himself, marked.
		if got := evalJS[string](pa, `document.querySelector('.moment .comment-author').textContent`); len(got) < 4 || got[:4] != "~Bo " {
			t.Errorf("Amina sees Bo as %q, want ~Bo (…)", got)
		}
		if n := evalJS[int](pb, `document.querySelectorAll('.moment-text i').length`); n != 0 {
			t.Error("a moment's text made elements")
		}
		pa.checkLayout("moments at 1280 px")
		pa.screenshot("moments-1280")
		pb.resize(360, 780)
		pb.checkLayout("moments at 360 px")
		pb.fullScreenshot("moments-360")
		pb.resize(1280, 900)

		pa.click(".moment .moment-actions .push")
		pa.wait("the question", `document.querySelector('.moment dialog').open`)
		pa.click(".moment dialog button.danger")
		pb.wait("the deleted moment to leave Bo's page", `!(`+hasMoment(text)+`)`)
		f, err := moments.NewClient(bo.client).Feed(bo.ctx(), 10, "")
		if err != nil || len(f.Moments) != 0 {
			t.Errorf("Bo's feed after the deletion: %+v, %v", f, err)
		}
	})
	pa.checkConsole()
	pb.checkConsole()
}
