//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gotwister/twister/chain/consensus"
)

// pageHooks is run in the page before the app's own scripts (on every
// load). It records the desktop notifications the app makes (a subclass of
// the real Notification: the notification is still made) and DM events,
// and lets the test say whether the tab is in the background: headless
// Chromium's tabs are always visible and the app only notifies from a
// hidden tab, so __e2e.hidden (null: the real value) overrides
// document.hidden.
const pageHooks = `(() => {
  if (window.__e2e) return;
  const e2e = window.__e2e = { notes: [], dms: [], hidden: null };
  const real = Object.getOwnPropertyDescriptor(Document.prototype, "hidden");
  Object.defineProperty(Document.prototype, "hidden", { configurable: true,
    get() { return e2e.hidden === null ? real.get.call(this) : e2e.hidden; } });
  if (window.Notification) {
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, opts = {}) {
        const rec = { title, body: opts.body || "", tag: opts.tag || "" };
        e2e.notes.push(rec);
        super(title, opts);
        rec.instance = this;
      }
    };
  }
  document.addEventListener("twister:dm", (e) => e2e.dms.push(e.detail));
})()`

// installPageHooks grants the site the notifications permission (as a
// person clicking "Allow" would) and installs pageHooks for every page
// load from now on.
func installPageHooks(b *browser, origin string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		b.t.Fatalf("granting notifications: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageHooks}); err != nil {
		b.t.Fatalf("installing the page hooks: %v", err)
	}
}

// waitAsync polls a JavaScript expression, which may give a promise, until
// its value is truthy.
func (b *browser) waitAsync(what, expr string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`Promise.resolve(`+expr+`).then(v => !!v)`, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fail("timed out after %v waiting for %s (%s; last error %v)", d, what, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// homeToEnd opens the home timeline and scrolls until every held post is
// on the page ("That is all…"), showing any new posts behind the notice.
func (b *browser) homeToEnd() {
	b.t.Helper()
	b.route("#/home")
	b.wait("the whole home timeline", `(() => {
	  const n = document.querySelector("#new-posts"); if (n && !n.hidden) n.click();
	  window.scrollTo(0, document.body.scrollHeight);
	  return document.querySelector("#main .sentinel .end, #main .sentinel .empty"); })()`, 30*time.Second)
}

// holds is a JavaScript condition: the browser node holds a post of user
// with text.
func holds(user, text string) string {
	return fmt.Sprintf(`twisterApi.timeline({users: [%q], count: 200}).then(ps => ps.some(p => p.text === %q))`, user, text)
}

// onHome is a JavaScript condition: the home timeline shows a post whose
// text contains text.
func onHome(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#main .posts article.post")].some(a => a.textContent.includes(%q))`, text)
}

// testUnfollow: webby unfollows carol on her page; carol leaves the
// following list and the home timeline, and a post carol writes meanwhile
// does not reach the browser while one bob writes after it does. Following
// carol again fetches it (so the first check was not just slowness).
func testUnfollow(t *testing.T, b *browser, tn *testNet) {
	b.route("#/user/carol")
	b.click(`#main button.follow[data-user="carol"]`, "Unfollow")
	b.wait("carol unfollowed", `document.querySelector('#main button.follow[data-user="carol"]').textContent === "Follow"`, 30*time.Second)
	b.waitAsync("carol out of the node's following list", `twisterApi.following().then(f => !f.includes("carol") && f.includes("bob"))`, 10*time.Second)
	b.homeToEnd()
	if n := b.str(`String(document.querySelectorAll('#main .posts article.post[data-user="carol"]').length)`); n != "0" {
		t.Errorf("the home timeline still shows %s posts of carol after unfollowing her", n)
	}
	if b.str(`String(!!document.querySelector('#main article.post[data-id="bob/0"]'))`) != "true" {
		t.Error("bob/0 is missing from the home timeline")
	}

	const whileOut, bobAfter = "carol writes while unfollowed", "bob writes after carol"
	tn.B.postAs("carol", whileOut)
	tn.A.postAs("bob", bobAfter)
	b.waitAsync("bob's new post in the browser", holds("bob", bobAfter), 60*time.Second)
	if b.str(`String(document.querySelector("#main").textContent.includes(`+fmt.Sprintf("%q", whileOut)+`))`) == "true" {
		t.Error("carol's post written after the unfollow is on the page")
	}
	b.waitAsync("the browser node not to hold carol's new post", `(`+holds("carol", whileOut)+`).then(h => !h)`, time.Second)

	// Following again fetches it from carol's swarm.
	b.route("#/user/carol")
	b.click(`#main button.follow[data-user="carol"]`, "Follow")
	b.wait("carol followed again", `document.querySelector('#main button.follow[data-user="carol"]').textContent === "Unfollow"`, 30*time.Second)
	b.waitAsync("carol's post written while unfollowed, after following again", holds("carol", whileOut), 60*time.Second)
	b.homeToEnd()
	b.wait("carol's posts back on the home timeline", `document.querySelector('#main article.post[data-id="carol/0"]') && `+onHome(whileOut), 30*time.Second)
}

// testWhoToFollow: bob (followed by webby) publicly follows dave on
// native node A (his following list in the DHT); the home page suggests
// dave (friends of friends, the worker's userFollowing), and the follow
// button of the suggestion follows him: his post arrives.
func testWhoToFollow(t *testing.T, b *browser, tn *testNet) {
	b.waitAsync("bob's public following list (DHT following1, read by the worker)", `twisterApi.call("userFollowing", {user: "bob"}).then(l => l.includes("dave"))`, 60*time.Second)
	b.route("#/home")
	sel := `#main aside.sidebar ul.users button.follow[data-user="dave"]`
	b.wait("dave suggested in who to follow", `document.querySelector('`+sel+`') && document.querySelector('`+sel+`').textContent === "Follow"`, 60*time.Second)
	if got := b.str(`[...document.querySelectorAll("#main aside.sidebar ul.users button.follow")].map(x => x.dataset.user).join(",")`); strings.Contains(got, "bob") || strings.Contains(got, "webby") {
		t.Errorf("who to follow suggests %q: followed users and oneself must not be suggested", got)
	}
	b.shot("desktop-23-who-to-follow")
	b.click(sel, "Follow")
	b.wait("following dave", `document.querySelector('`+sel+`').textContent === "Unfollow"`, 30*time.Second)
	b.waitAsync("dave in the following list", `twisterApi.following().then(f => f.includes("dave"))`, 10*time.Second)
	b.waitAsync("dave's post fetched from his swarm", holds("dave", "dave's first post, from node B"), 60*time.Second)
	b.homeToEnd()
	b.wait("dave's post on the home timeline", `document.querySelector('#main article.post[data-id="dave/0"][data-verified="true"]')`, 30*time.Second)
	// Followed now: no longer suggested.
	b.route("#/home")
	b.wait("the suggestions computed again", `!document.querySelector("#main aside.sidebar .loading")`, 60*time.Second)
	if b.str(`String(!!document.querySelector('`+sel+`'))`) == "true" {
		t.Error("dave is still suggested after following him")
	}
}

// followingList reads user's following1 with native node A's dhtget RPC
// (as twisterd's web UI reads anyone's following list): the names and the
// seq of the item, which must be signed by user; ok is false when there
// is none.
func followingList(t *testing.T, tn *testNet, user string) (names []string, seq int64, ok bool) {
	t.Helper()
	raw, err := tn.A.call("dhtget", user, "following1", "s")
	if err != nil {
		t.Fatalf("dhtget %s following1: %v", user, err)
	}
	var items []struct {
		P struct {
			V   []string `json:"v"`
			Seq int64    `json:"seq"`
		} `json:"p"`
		SigUser string `json:"sig_user"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatalf("dhtget %s following1: %s: %v", user, raw, err)
	}
	if len(items) == 0 {
		return nil, 0, false
	}
	if len(items) != 1 || items[0].SigUser != user {
		t.Fatalf("dhtget %s following1: %s", user, raw)
	}
	return items[0].P.V, items[0].P.Seq, true
}

// wantFollowing waits until native node A reads user's following1 as
// exactly want (sorted, as published) and returns its seq.
func wantFollowing(t *testing.T, tn *testNet, user string, want ...string) int64 {
	t.Helper()
	var got []string
	var seq int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		if got, seq, ok = followingList(t, tn, user); ok && slices.Equal(got, want) {
			return seq
		}
		if time.Now().After(deadline) {
			t.Fatalf("native node A reads %s's following1 as %q (seq %d), want %q", user, got, seq, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testPublicFollow: webby's public follows (the follow button's default:
// bob, carol and dave by now) are in his following1, which native node A
// reads with dhtget; dave unfollowed and followed again privately ("Follow
// privately") is left out, the control says "Private", and it switches to
// public and back (dave listed, then not); unfollowing carol removes her;
// following her again (public) lists her again, for the later subtests.
func testPublicFollow(t *testing.T, b *browser, tn *testNet) {
	wantFollowing(t, tn, "webby", "bob", "carol", "dave")
	follow := func(u string) string { return `#main button.follow[data-user="` + u + `"]` }
	kind := func(u string) string { return `#main button.follow-kind[data-user="` + u + `"]` }
	shows := func(u, main, k string) string {
		return fmt.Sprintf(`(() => { const f = document.querySelector(%q), k = document.querySelector(%q), p = document.querySelector(%q);
		  return f && f.textContent === %q && (%q === "" ? k.hidden && !p.hidden : !k.hidden && p.hidden && k.textContent === %q); })()`,
			follow(u), kind(u), `#main button.follow-private[data-user="`+u+`"]`, main, k, k)
	}

	b.route("#/user/carol")
	b.wait("carol's follow shown as public", shows("carol", "Unfollow", "Public"), 30*time.Second)

	// dave: unfollowed, then followed privately.
	b.route("#/user/dave")
	b.wait("dave's follow shown as public", shows("dave", "Unfollow", "Public"), 30*time.Second)
	b.click(follow("dave"), "Unfollow")
	b.wait("dave unfollowed, both ways of following offered", shows("dave", "Follow", ""), 30*time.Second)
	seq := wantFollowing(t, tn, "webby", "bob", "carol")
	b.click(`#main button.follow-private[data-user="dave"]`, "Follow privately")
	b.wait("dave followed privately", shows("dave", "Unfollow", "Private"), 30*time.Second)
	b.waitAsync("dave a private follow in the node", `twisterApi.call("follows").then(l => l.some(f => f.user === "dave" && f.public === false) && l.some(f => f.user === "carol" && f.public === true))`, 10*time.Second)
	b.shot("desktop-24-private-follow")
	if got, s, _ := followingList(t, tn, "webby"); !slices.Equal(got, []string{"bob", "carol"}) || s != seq {
		t.Errorf("after following dave privately following1 is %q (seq %d → %d), want bob and carol unchanged", got, seq, s)
	}
	b.waitAsync("the worker's userFollowing(webby) without dave", `twisterApi.call("userFollowing", {user: "webby"}).then(l => l.join() === "bob,carol")`, 30*time.Second)

	// The switch: public (listed), then private again (not listed).
	b.click(kind("dave"), "Private")
	b.wait("dave switched to public", shows("dave", "Unfollow", "Public"), 30*time.Second)
	wantFollowing(t, tn, "webby", "bob", "carol", "dave")
	b.click(kind("dave"), "Public")
	b.wait("dave switched to private", shows("dave", "Unfollow", "Private"), 30*time.Second)
	wantFollowing(t, tn, "webby", "bob", "carol")

	// Unfollowing carol removes her; following her again lists her again.
	b.route("#/user/carol")
	b.click(follow("carol"), "Unfollow")
	b.wait("carol unfollowed", shows("carol", "Follow", ""), 30*time.Second)
	wantFollowing(t, tn, "webby", "bob")
	b.click(follow("carol"), "Follow")
	b.wait("carol followed again, publicly", shows("carol", "Unfollow", "Public"), 30*time.Second)
	wantFollowing(t, tn, "webby", "bob", "carol")
	b.waitAsync("dave still followed (privately) by the node", `twisterApi.following().then(f => f.includes("dave") && f.includes("carol"))`, 10*time.Second)
}

// testPromoted: the coinbase message a native node mines into a block
// (setspammsg, setgenerate) shows above the home timeline, marked as
// promoted, at most once every 8 hours (the app keeps the time in
// localStorage "twister.promotedAt"): the first home page showed the
// default message of the blocks mined so far, so bob's newer one waits
// until 8 hours have passed.
func testPromoted(t *testing.T, b *browser, tn *testNet) {
	const msg = "bob's promoted message: visit the #e2etest garden"
	slot := `document.querySelector("#main .promoted-slot")`
	firstShown := b.str(`JSON.parse(localStorage.getItem("twister.promotedId"))`)
	if firstShown == "<nil>" || b.str(`localStorage.getItem("twister.promotedAt")`) == "<nil>" {
		t.Fatal("no promoted post was shown on the first visits to the home page")
	}
	shownAt := b.str(`localStorage.getItem("twister.promotedAt")`)
	tn.A.must("setspammsg", "bob", msg)
	tn.A.mine()
	defer tn.A.must("setspammsg", "nobody", consensus.DefaultPromotedMessage)
	// The worker syncs its headers when the bridge's tip is ahead.
	b.waitAsync("bob's promoted message from the worker, verified", fmt.Sprintf(`twisterApi.call("promotedPosts", {count: 5}).then(ps => ps.length && ps[0].text === %q && ps[0].user === "bob" && ps[0].kind === "promoted" && ps[0].verified)`, msg), 60*time.Second)

	// Less than 8 hours after the last one: not shown.
	b.route("#/home")
	b.wait("the promoted slot decided", `["not-due", "shown", "none", "error"].includes(`+slot+`.dataset.state)`, 30*time.Second)
	if st := b.str(slot + `.dataset.state + " " + ` + slot + `.textContent`); st != "not-due " {
		t.Errorf("promoted slot within 8 hours of the last one: %q, want not-due and empty", st)
	}
	if got := b.str(`localStorage.getItem("twister.promotedAt")`); got != shownAt {
		t.Errorf("promotedAt changed from %s to %s without a promoted post shown", shownAt, got)
	}
	// 8 hours later: the newest, marked as promoted, without post actions.
	b.eval(`localStorage.setItem("twister.promotedAt", String(Date.now() - 8 * 3600 * 1000 - 60000))`)
	b.route("#/home")
	card := `#main .promoted-slot article.post.promoted[data-kind="promoted"][data-user="bob"][data-verified="true"]`
	b.wait("the promoted post", fmt.Sprintf(`document.querySelector('%s') && document.querySelector('%s').textContent.includes(%q) &&
	  document.querySelector("#main .promoted-slot .promoted-label").textContent === "Promoted" && !document.querySelector('%s .actions')`, card, card, msg, card), 30*time.Second)
	if id := b.str(`JSON.parse(localStorage.getItem("twister.promotedId"))`); id == firstShown || !strings.HasPrefix(id, "bob/") {
		t.Errorf("promotedId %s after showing bob's message (first shown: %s)", id, firstShown)
	}
	b.shot("desktop-22-promoted")
	// Shown once: the next visit has none.
	b.route("#/home")
	b.wait("the promoted slot decided", `["not-due", "shown", "none", "error"].includes(`+slot+`.dataset.state)`, 30*time.Second)
	if st := b.str(slot + `.dataset.state`); st != "not-due" {
		t.Errorf("promoted slot on the next visit: %s, want not-due", st)
	}
}

// testNotifications: opted in (settings; the permission is granted),
// a mention and a direct message arriving while the tab is in the
// background make desktop notifications with the right title and text;
// opted out, they make none.
func testNotifications(t *testing.T, b *browser, tn *testNet) {
	b.route("#/settings")
	if b.str(`String(document.querySelector("#set-notif").checked)`) != "false" {
		t.Fatal("desktop notifications are on before opting in")
	}
	b.click("#set-notif", "")
	b.wait("notifications on", `JSON.parse(localStorage.getItem("twister.settings")).notifications === true && document.querySelector("#set-notif").checked &&
	  document.querySelector("#set-notif").closest("section").querySelector("[role=status]").textContent.includes("You will be notified")`, 10*time.Second)
	b.shot("desktop-21-notifications")
	b.eval(`__e2e.hidden = true; document.dispatchEvent(new Event("visibilitychange"))`)
	defer b.eval(`__e2e.hidden = null`)

	notes := func() int { return int(b.eval(`__e2e.notes.length`).(float64)) }
	has := func(title, body string) string {
		return fmt.Sprintf(`__e2e.notes.some(n => n.title === %q && n.body === %q)`, title, body)
	}
	const mention, dm = "@webby are you around? asking for a notification", "a note while your tab is hidden"
	k := tn.A.postAs("bob", mention)
	b.wait("the mention's notification", has("@bob mentioned you", mention), 60*time.Second)
	tn.A.must("newdirectmsg", "bob", tn.A.Node.LastHave("bob")+1, "webby", dm)
	b.wait("the direct message's notification", has("Message from @bob", dm), 60*time.Second)
	// Clicking the mention's notification opens the post.
	b.eval(`(() => { const n = __e2e.notes.find(n => n.title === "@bob mentioned you"); if (n.instance && n.instance.onclick) n.instance.onclick(); })()`)
	if b.str(`String(!!__e2e.notes.find(n => n.title === "@bob mentioned you").instance)`) == "true" {
		b.wait("the mentioning post opened from the notification", fmt.Sprintf(`location.hash === "#/post/bob/%d"`, k), 10*time.Second)
	} else {
		t.Log("Chromium made no Notification object (the app's call was recorded); its click is not tested")
	}

	// Opted out: the same events, no notification.
	b.route("#/settings")
	b.click("#set-notif", "")
	b.wait("notifications off", `JSON.parse(localStorage.getItem("twister.settings")).notifications === false && !document.querySelector("#set-notif").checked`, 10*time.Second)
	before := notes()
	badge := b.str(`document.querySelector("#mention-badge").hidden ? "0" : document.querySelector("#mention-badge").textContent`)
	const mention2, dm2 = "@webby one more mention, no notification please", "a second note, no notification please"
	tn.A.postAs("bob", mention2)
	tn.A.must("newdirectmsg", "bob", tn.A.Node.LastHave("bob")+1, "webby", dm2)
	// The app has handled both when the mention badge counts the mention
	// and the DM event went by (notify runs right after each).
	b.wait("the second mention counted", fmt.Sprintf(`!document.querySelector("#mention-badge").hidden && document.querySelector("#mention-badge").textContent !== %q`, badge), 60*time.Second)
	b.wait("the second direct message handled", fmt.Sprintf(`__e2e.dms.some(d => d.text === %q)`, dm2), 60*time.Second)
	if n := notes(); n != before {
		t.Errorf("%d notification(s) made while opted out: %s", n-before, b.str(`JSON.stringify(__e2e.notes.slice(`+fmt.Sprint(before)+`).map(n => n.title + ": " + n.body))`))
	}
}

// testMute: muting carol (her page) hides her posts, and retwists of
// them, on the home timeline and the hashtag page; a post she writes while
// muted reaches the node but is not shown; a muted word hides bob's post
// with it. The lists are in the settings (testDrafts checks they survive
// a reload and unmutes).
func testMute(t *testing.T, b *browser, tn *testNet) {
	b.route("#/user/carol")
	b.click("#main .profile-actions button", "Mute")
	b.wait("carol muted", `[...document.querySelectorAll("#main .profile-actions button")].some(x => x.textContent === "Unmute") &&
	  JSON.parse(localStorage.getItem("twister.mutes")).users.includes("carol")`, 10*time.Second)
	const whileMuted = "carol writes while muted"
	tn.B.postAs("carol", whileMuted)
	b.waitAsync("carol's post while muted reaching the node", holds("carol", whileMuted), 60*time.Second)
	b.homeToEnd()
	if got := b.str(`[...document.querySelectorAll("#main .posts article.post")].filter(a => a.dataset.user === "carol" || a.querySelector('blockquote.embedded[data-id^="carol/"]')).map(a => a.dataset.id).join(",")`); got != "" {
		t.Errorf("muted carol's posts on the home timeline: %s", got)
	}
	if b.str(`String(`+onHome(whileMuted)+`)`) == "true" {
		t.Error("carol's post written while muted is on the home timeline")
	}
	b.wait("bob's posts still shown", `document.querySelector('#main article.post[data-id="bob/0"]') && document.querySelector('#main article.post[data-id="bob/1"]')`, 10*time.Second)
	b.route("#/tag/e2etest")
	b.wait("the hashtag page with carol hidden", `document.querySelector('#main article.post[data-id="bob/0"]') && !document.querySelector('#main article.post[data-id="carol/0"]') &&
	  document.querySelector("#main .posts p.muted").textContent.includes("hidden by your mute lists")`, 60*time.Second)

	// A muted word, in the settings.
	b.route("#/settings")
	b.fill("#set-mute-words", "gardening")
	b.click("#main form.card.form button", "Save mute lists")
	b.wait("mute lists saved", `JSON.parse(localStorage.getItem("twister.mutes")).words.join() === "gardening" && document.querySelector("#toasts").textContent.includes("Mute lists saved")`, 10*time.Second)
	b.route("#/settings")
	if got := b.str(`document.querySelector("#set-mute-users").value + "|" + document.querySelector("#set-mute-words").value`); got != "carol|gardening" {
		t.Errorf("settings show the mute lists as %q, want carol|gardening", got)
	}
	b.shot("desktop-20-mute-list")
	b.homeToEnd()
	b.wait("bob's gardening post hidden", `document.querySelector('#main article.post[data-id="bob/0"]') && !document.querySelector('#main article.post[data-id="bob/1"]')`, 10*time.Second)
	// The word unmuted again; carol stays muted for testDrafts.
	b.route("#/settings")
	b.fill("#set-mute-words", "")
	b.click("#main form.card.form button", "Save mute lists")
	b.wait("the word unmuted", `JSON.parse(localStorage.getItem("twister.mutes")).words.length === 0`, 10*time.Second)
}

// testDrafts: text typed in the home composer, a reply box and a direct
// message box is back after a reload (and the log-in it needs); a message
// that fails to send (to a name nobody registered) keeps its text. The
// mute list survives the reload too; unmuting carol brings her posts back.
func testDrafts(t *testing.T, b *browser, tn *testNet) {
	const home, reply, dm, failing = "a draft for the home composer", "a reply I have not sent yet", "a message to bob, unfinished", "this message cannot be sent"
	b.route("#/home")
	b.wait("the home timeline", `document.querySelector('#main .posts article.post[data-user="bob"]')`, 30*time.Second)
	b.fill("#main form.composer textarea", home)
	target := b.str(`document.querySelector('#main .posts article.post[data-user="bob"][data-kind="post"]').dataset.id`)
	replySel := fmt.Sprintf(`#main article.post[data-id=%q] .inline-slot textarea`, target)
	b.click(fmt.Sprintf(`#main article.post[data-id=%q] button.act.reply`, target), "")
	b.wait("the reply box", `document.querySelector('`+replySel+`')`, 10*time.Second)
	b.fill(replySel, reply)
	b.route("#/messages/bob")
	b.fill("#main form.composer textarea", dm)

	// A message that fails: the error is shown, the text stays.
	b.route("#/messages/nosuchuser")
	b.typeInto("#main form.composer textarea", failing)
	b.wait("the failure shown", `document.querySelector("#main form.composer p.error").textContent.length > 0`, 30*time.Second)
	t.Logf("sending to nosuchuser: %s", b.str(`document.querySelector("#main form.composer p.error").textContent`))
	if got := b.str(`document.querySelector("#main form.composer textarea").value`); got != failing {
		t.Errorf("after the failed send the box holds %q, want %q", got, failing)
	}
	if b.str(`String(!!document.querySelector("#main form.composer p.error button"))`) != "false" {
		t.Error(`an unknown recipient is offered "send it later" (only network failures should be)`)
	}

	b.do(chromedp.Reload())
	b.wait("the app after the reload", `document.querySelector("#netstate") && window.twisterApi && !document.querySelector("#main").hasAttribute("aria-busy")`, 60*time.Second)
	b.route("#/login")
	b.fill("#login-pass", "correct horse battery")
	b.click("#main form button.primary", "Log in")
	b.wait("logged in again", `document.querySelector("#whoami").textContent.includes("@webby") && location.hash === "#/home"`, 60*time.Second)
	b.wait("the home draft back", fmt.Sprintf(`document.querySelector("#main form.composer textarea").value === %q`, home), 10*time.Second)
	b.wait("the post for the reply", fmt.Sprintf(`document.querySelector('#main article.post[data-id=%q]')`, target), 30*time.Second)
	b.click(fmt.Sprintf(`#main article.post[data-id=%q] button.act.reply`, target), "")
	b.wait("the reply draft back", fmt.Sprintf(`document.querySelector('%s') && document.querySelector('%s').value === %q`, replySel, replySel, reply), 10*time.Second)
	b.shot("desktop-25-drafts")
	b.route("#/messages/bob")
	b.wait("the message draft back", fmt.Sprintf(`document.querySelector("#main form.composer textarea").value === %q`, dm), 10*time.Second)
	b.route("#/messages/nosuchuser")
	b.wait("the failed message back", fmt.Sprintf(`document.querySelector("#main form.composer textarea").value === %q`, failing), 10*time.Second)

	// The mute list survived the reload.
	b.homeToEnd()
	if got := b.str(`String(document.querySelectorAll('#main .posts article.post[data-user="carol"]').length)`); got != "0" {
		t.Errorf("after the reload the home timeline shows %s posts of muted carol", got)
	}
	// A recovered draft sends: the home one, with Enter.
	b.route("#/home")
	b.do(chromedp.Focus(chromedp.CSS("#main form.composer textarea")), pressEnter())
	waitFor(t, 60*time.Second, "the native node to receive the recovered draft", func() bool {
		for _, p := range nativePosts(t, tn.A, "webby") {
			if p["msg"] == home {
				return true
			}
		}
		return false
	})
	b.wait("the home draft cleared", `!JSON.parse(localStorage.getItem("twister.drafts") || "{}").home && document.querySelector("#main form.composer textarea").value === ""`, 10*time.Second)
	// The others are dropped (cleared boxes clear their drafts).
	b.route("#/messages/bob")
	b.fill("#main form.composer textarea", "")
	b.route("#/messages/nosuchuser")
	b.fill("#main form.composer textarea", "")
	b.route("#/home")
	b.click(fmt.Sprintf(`#main article.post[data-id=%q] button.act.reply`, target), "")
	b.fill(replySel, "")
	if got := b.str(`localStorage.getItem("twister.drafts")`); got != "{}" {
		t.Errorf("drafts left: %s", got)
	}

	// Unmuted in the settings: carol's posts are back, the one written
	// while muted included.
	b.route("#/settings")
	b.fill("#set-mute-users", "")
	b.click("#main form.card.form button", "Save mute lists")
	b.wait("carol unmuted", `JSON.parse(localStorage.getItem("twister.mutes")).users.length === 0`, 10*time.Second)
	b.homeToEnd()
	b.wait("carol's posts back", `document.querySelector('#main article.post[data-id="carol/0"]') && `+onHome("carol writes while muted"), 30*time.Second)
}

// testFollowSync: a twisterd user on a new device. dave follows bob and
// carol with native node B's follow RPC (which publishes his following1);
// a fresh browser database (another device) imports dave's key and logs
// in: the worker reads dave's list from the DHT and follows both
// publicly, the app says so, their posts reach the home timeline, their
// pages show public follows, and the network page tells what was read.
func testFollowSync(t *testing.T, b *browser, tn *testNet, siteURL, bridgeURL string) {
	tn.B.must("follow", "dave", []string{"bob", "carol"})
	waitFor(t, 30*time.Second, "dave's following1 (published by node B) read by node A", func() bool {
		got, _, ok := followingList(t, tn, "dave")
		return ok && slices.Contains(got, "bob") && slices.Contains(got, "carol")
	})
	b.do(chromedp.Navigate(siteURL + "/app/?bridge=" + bridgeURL + "&network=regtest&db=e2e-dave"))
	// The key store is the site's, not the device database's: webby's
	// account is offered, so the app starts at the login page.
	b.wait("the new device's node to start (login page)", `window.twisterApi && ["#/login", "#/welcome"].includes(location.hash) && document.querySelector("#main h1")`, 60*time.Second)
	if got := b.str(`twisterApi.following().then(f => (f || []).join(","))`); got != "" {
		t.Fatalf("the new device follows %q before any login", got)
	}
	b.route("#/import")
	b.fill("#imp-user", "dave")
	b.fill("#imp-secret", tn.Secret["dave"])
	b.fill("#imp-pass", "dave's passphrase here")
	b.fill("#imp-pass2", "dave's passphrase here")
	b.click("#main form button.primary", "Import and log in")
	b.wait("logged in as dave", `document.querySelector("#whoami").textContent.includes("@dave") && location.hash === "#/home"`, 60*time.Second)
	b.waitAsync("dave's following list merged: bob and carol public follows",
		`twisterApi.call("follows").then(l => ["bob", "carol"].every(u => l.some(f => f.user === u && f.public)))`, 30*time.Second)
	b.waitAsync("the merge reported done", `twisterApi.call("followSync").then(s => s && s.user === "dave" && s.state === "done" && s.merged && (s.added || []).join() === "bob,carol")`, 10*time.Second)
	b.wait("the app's notice of the merge", `document.querySelector("#toasts").textContent.includes("from your public following list")`, 10*time.Second)
	b.wait("no reading notice left on the home page", `!document.querySelector("#follow-sync") || document.querySelector("#follow-sync").hidden`, 10*time.Second)
	b.homeToEnd()
	b.wait("bob's and carol's posts on the new device's home timeline", `(() => {
	  const n = document.querySelector("#new-posts"); if (n && !n.hidden) n.click();
	  window.scrollTo(0, document.body.scrollHeight);
	  return ["bob/0", "carol/0"].every(id => document.querySelector('#main article.post[data-id="' + id + '"][data-verified="true"]')); })()`, 60*time.Second)
	b.shot("desktop-26-follows-from-dht")
	b.route("#/user/carol")
	b.wait("carol's page: a public follow", `(() => { const f = document.querySelector('#main button.follow[data-user="carol"]'), k = document.querySelector('#main button.follow-kind[data-user="carol"]');
	  return f && f.textContent === "Unfollow" && k && !k.hidden && k.textContent === "Public"; })()`, 30*time.Second)
	b.route("#/network")
	b.wait("the network page tells what was read", `(() => { const d = document.querySelector('#main dd[data-stat="Following list in the DHT"]');
	  return d && d.textContent.includes("2 followed from it"); })()`, 30*time.Second)
	// Nothing was put over twisterd's list: node A still reads it.
	if got, _, _ := followingList(t, tn, "dave"); !slices.Contains(got, "bob") || !slices.Contains(got, "carol") {
		t.Errorf("dave's following1 after the browser's login: %q", got)
	}
}
