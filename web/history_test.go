package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Three runs of one commit: flaky fails, is rerun from the page and
// passes; hold is cancelled from the page. Then `odu rerun hold`, twice:
// the other nodes are carried over from the first run.
const historyJustfile = `
[metadata("ci")]
ci: steady flaky hold

steady:
    echo "steady output"

flaky:
    #!/bin/sh
    n=$(cat {{GATES}}/flaky-n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{GATES}}/flaky-n
    echo "flaky attempt $n"
    [ $n -ge 2 ]

hold:
    GATE_HOLD
    rm -f {{GATES}}/hold
`

// TestHistoryPage: an earlier attempt opens from a deep link (live and
// past), a node is cancelled from the page, the board lists the commit's
// runs with their verdicts (runstate's index), and a run after the run
// shows its carried nodes, naming the run they come from, a running
// node's clock against its expectation, and the run's ETA.
func TestHistoryPage(t *testing.T) {
	c := newCheckout(t, strings.ReplaceAll(historyJustfile, "GATE_HOLD", gate("hold")))
	ctx := browser(t, 1280, 800)
	r := c.start(ctx, t)
	s := serve(t, c.dir, "127.0.0.1:0")
	dir := t.TempDir()

	if err := chromedp.Do(ctx, chromedp.Navigate(s.url("#/run/live"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "flaky red", cellHas("flaky", "st-failure"), 30*time.Second)
	flaky := eval[string](ctx, t, fmt.Sprintf(cell, "flaky")+`.dataset.id`)
	ref := eval[string](ctx, t, `document.querySelectorAll('#crumbs a')[1].textContent`)
	run := s.base + "/#/run/" + strings.ReplaceAll(ref, "#", "%23") + "/"

	// Rerun flaky from the page: attempt 2 passes.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#matrix button.node[data-id^="flaky@"]`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "flaky's first log", `document.querySelector('.log') && document.querySelector('.log').textContent.includes('flaky attempt 1')`, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.logbar .rerun`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the confirm dialog", `document.querySelector('#confirm').open`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-yes`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "flaky green after the rerun", cellHas("flaky", "st-success"), 30*time.Second)
	poll(ctx, t, "flaky's second log", `document.querySelector('.log').textContent.includes('flaky attempt 2')`, 30*time.Second)

	// Attempt 1 from a deep link, while the run is live: its own text.
	attempt1 := func(when string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(run+strings.ReplaceAll(flaky, "@", "%40")+"/1"), chromedp.WaitReady(chromedp.CSS("#main"))); err != nil {
			t.Fatal(err)
		}
		poll(ctx, t, "attempt 1's log "+when, `document.querySelector('.log') && document.querySelector('.log').textContent.includes('flaky attempt 1')`, 30*time.Second)
		if got := eval[string](ctx, t, `document.querySelector('.log').textContent`); strings.Contains(got, "flaky attempt 2") {
			t.Errorf("attempt 1's log %s shows attempt 2's text: %q", when, got)
		}
		if got := eval[string](ctx, t, `document.querySelector('.logbar .attempts b').textContent`); got != "1" {
			t.Errorf("the attempt shown %s is %q, want 1", when, got)
		}
	}
	attempt1("while the run is live")

	// Cancel hold, one node, from the page, confirming.
	if err := chromedp.Do(ctx, chromedp.Navigate(run+strings.ReplaceAll(strings.Replace(flaky, "flaky", "hold", 1), "@", "%40"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "hold's log pane", `document.querySelector('.logbar .cancel') && !document.querySelector('.logbar .cancel').disabled`, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.logbar .cancel`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the confirm dialog", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.startsWith('Cancel hold@')`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-yes`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "hold cancelled", cellHas("hold", "st-cancelled"), 30*time.Second)
	r.wait(t, 30*time.Second)
	if got := eval[string](ctx, t, fmt.Sprintf(cell, "steady")+`.className`); !strings.Contains(got, "st-success") {
		t.Errorf("cancelling hold touched steady: %q", got)
	}
	attempt1("of the past run")

	// A run after the run: hold again, the rest carried over.
	c.open(t, "hold")
	second := c.startCmd(ctx, t, "rerun", "hold")
	second.wait(t, 60*time.Second)
	ref2 := strings.TrimSuffix(ref, "1") + "2"

	// The board: the commit's runs with their verdicts.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/#/")); err != nil {
		t.Fatal(err)
	}
	verdict := func(ref string) string {
		return fmt.Sprintf(`(document.querySelector('table.runs tr[data-ref=%q]') || {textContent: 'no row'}).textContent`, ref)
	}
	poll(ctx, t, "the board with both runs", fmt.Sprintf(`%s !== 'no row' && %s !== 'no row'`, verdict(ref), verdict(ref2)), 30*time.Second)
	for ref, want := range map[string]string{ref: "failed", ref2: "passed"} {
		if got := eval[string](ctx, t, verdict(ref)); !strings.Contains(got, ref+" "+want) {
			t.Errorf("the board's row of %s reads %q, want %s", ref, got, want)
		}
	}
	if got := eval[string](ctx, t, verdict(ref)); !strings.Contains(got, "hold@") {
		t.Errorf("the board's row of %s reads %q, want hold among the nodes not ok", ref, got)
	}
	screenshot(ctx, t, dir, "board-two-runs-1280x800.png", 1280, 800)

	// The third run, live: steady carried over from the first run (where
	// it ran), hold expected to take as long as in the second.
	third := c.startCmd(ctx, t, "rerun", "hold")
	ref3 := strings.TrimSuffix(ref, "1") + "3"
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/#/run/live/"+strings.ReplaceAll(strings.Replace(flaky, "flaky", "steady", 1), "@", "%40"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the third run live", fmt.Sprintf(`(document.querySelectorAll('#crumbs a')[1] || {}).textContent === %q && document.querySelector('#conn').textContent === 'live'`, ref3), 30*time.Second)
	poll(ctx, t, "steady carried", cellHas("steady", "carried")+` && `+fmt.Sprintf(cell, "steady")+`.textContent.includes('↺')`, 10*time.Second)
	poll(ctx, t, "steady's note", fmt.Sprintf(`(document.querySelector('.reason a.carriedfrom') || {}).textContent === %q`, ref), 10*time.Second)
	if got := eval[string](ctx, t, `document.querySelector('.reason').textContent`); got != "↺ carried over from "+ref {
		t.Errorf("steady's note reads %q, want carried over from %s", got, ref)
	}
	poll(ctx, t, "steady's carried log: the first run's", `document.querySelector('.log').textContent.includes('steady output')`, 10*time.Second)
	if cls := eval[string](ctx, t, fmt.Sprintf(cell, "hold")+`.className`); strings.Contains(cls, "carried") {
		t.Errorf("hold, which runs again, is marked carried: %q", cls)
	}
	poll(ctx, t, "hold's clock against its expectation", fmt.Sprintf(cell, "hold")+`.querySelector('.clock').textContent.includes('/~')`, 10*time.Second)
	poll(ctx, t, "the run's ETA", `((document.querySelector('#eta') || {}).textContent || '').startsWith('ETA ')`, 10*time.Second)
	screenshot(ctx, t, dir, "run-carried-eta-1280x800.png", 1280, 800)
	// The link names the run the node comes from.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.reason a.carriedfrom`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the first run's steady", fmt.Sprintf(`(document.querySelectorAll('#crumbs a')[1] || {}).textContent === %q && document.querySelector('.log') && document.querySelector('.log').textContent.includes('steady output')`, ref), 30*time.Second)
	c.open(t, "hold")
	third.wait(t, 60*time.Second)
}
