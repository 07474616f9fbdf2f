package web

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A realistic log: colours, a \r progress line, a two-line progress
// display redrawn in place, many lines, and a failure.
const pageJustfile = `
[metadata("ci")]
ci: build test flaky hold

build:
    #!/bin/sh
    printf '\033[1;32m   Compiling\033[0m odu v0.1.0 (/work/odu)\n'
    for i in 1 2 3 4 5 6 7 8 9 10; do printf '\rDownloading crates %3d%%' $((i*10)); done
    printf '\n'
    printf 'fetch  [##        ]  20%%\nbuild  [#         ]  10%%\n'
    printf '\033[2Afetch  [##########] 100%%\033[K\nbuild  [##########] 100%%\033[K\n'
    i=1; while [ $i -le 400 ]; do printf '\033[2m%s\033[0m compiling crate \033[36mcrate%d\033[0m\n' "$(date +%H:%M:%S)" $i; i=$((i+1)); done
    printf '\033[33mwarning:\033[0m unused variable: \033[1mx\033[0m\n'
    GATE_BUILD
    printf '\033[1;32m    Finished\033[0m release in 12.3s\n'

test: build
    #!/bin/sh
    echo "running 3 tests"
    printf 'test parse ... \033[32mok\033[0m\n'
    printf 'test render ... \033[31mFAILED\033[0m\n'
    printf '\n\033[1;31merror:\033[0m test failed, to rerun pass \033[1m--test render\033[0m\n'
    exit 101

flaky:
    #!/bin/sh
    if [ -e {{GATES}}/flaky-ran ]; then echo "second time lucky"; exit 0; fi
    touch {{GATES}}/flaky-ran
    echo "first time fails"
    exit 1

hold:
    GATE_HOLD
`

func pageFile() string {
	return strings.NewReplacer("GATE_BUILD", gate("build"), "GATE_HOLD", gate("hold")).Replace(pageJustfile)
}

const cell = `document.querySelector('#matrix button.node[data-id^="%s@"]')`

func cellHas(node, class string) string {
	return fmt.Sprintf(`(%s || {classList: {contains: () => false}}).classList.contains(%q)`, fmt.Sprintf(cell, node), class)
}

// TestRunPage drives the page in Chromium against a real run: every node
// shows and changes status as the run goes, a node's log renders as a
// terminal shows it, a rerun from the page reruns the node, a deep link
// opens a node's log, the run is cancelled from the page, and the board
// lists the run.
func TestRunPage(t *testing.T) {
	c := newCheckout(t, pageFile())
	ctx := browser(t, 1280, 800)
	r := c.start(ctx, t)
	s := serve(t, c.dir, "127.0.0.1:0")

	if err := chromedp.Do(ctx, chromedp.Navigate(s.url("#/run/live"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the matrix of the four nodes", `document.querySelectorAll('#matrix button.node').length === 4`, 30*time.Second)
	poll(ctx, t, "build running", cellHas("build", "st-running"), 30*time.Second)
	poll(ctx, t, "test pending behind build", cellHas("test", "st-pending"), 5*time.Second)
	if got := eval[string](ctx, t, `document.querySelector('#conn').textContent`); got != "live" {
		t.Errorf("connection state %q, want live", got)
	}
	c.open(t, "build")
	poll(ctx, t, "build green", cellHas("build", "st-success"), 30*time.Second)
	poll(ctx, t, "test red", cellHas("test", "st-failure"), 30*time.Second)
	poll(ctx, t, "flaky red", cellHas("flaky", "st-failure"), 30*time.Second)
	if got := eval[string](ctx, t, fmt.Sprintf(cell, "build")+`.textContent`); !strings.HasPrefix(got, "✓") {
		t.Errorf("build's cell reads %q, want the dashboard's ✓ first", got)
	}

	// The log of build, opened with a click.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#matrix button.node[data-id^="build@"]`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "build's log, to its end", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent.includes('Finished release'))`, 30*time.Second)
	hash := eval[string](ctx, t, `location.hash`)
	if !regexp.MustCompile(`^#/run/live/build%40[a-z0-9_]+-[a-z]+$`).MatchString(hash) {
		t.Errorf("after a click on build, the URL's fragment is %q, want #/run/live/build%%40<platform>", hash)
	}
	dir := t.TempDir()
	screenshot(ctx, t, dir, "run-build-1280x800.png", 1280, 800)
	lines := eval[[]*string](ctx, t, logLinesJS)
	text := func(i int) string {
		if i >= len(lines) || lines[i] == nil {
			return "(not shown)"
		}
		return *lines[i]
	}
	for i, want := range []string{
		"   Compiling odu v0.1.0 (/work/odu)",
		"Downloading crates 100%",
		"fetch  [##########] 100%",
		"build  [##########] 100%",
	} {
		if got := text(i); got != want {
			t.Errorf("log line %d = %q, want %q", i+1, got, want)
		}
	}
	if n := len(lines); n != 4+400+2 {
		t.Errorf("the log shows %d lines, want %d", n, 4+400+2)
	}
	for i := range lines {
		if strings.Contains(text(i), " 10%") || strings.Contains(text(i), "20%") {
			t.Errorf("log line %d = %q: progress not collapsed", i+1, text(i))
		}
	}
	if got := text(4 + 399); !strings.HasSuffix(got, "compiling crate crate400") {
		t.Errorf("log line %d = %q, want ... compiling crate crate400", 4+400, got)
	}
	// Colours as a terminal shows them: the warning yellow, Compiling bold green.
	colour := func(word string) string {
		return eval[string](ctx, t, fmt.Sprintf(`(() => {
			const el = document.querySelector('.log');
			el.scrollTop = 0;
			return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => {
				const sp = [...el.querySelectorAll('.ln span')].find(s => s.textContent.trim() === %q);
				r(sp ? getComputedStyle(sp).color + ' ' + getComputedStyle(sp).fontWeight : 'no span');
			})));
		})()`, word))
	}
	if got := colour("Compiling"); got != "rgb(166, 240, 106) 700" && got != "rgb(138, 226, 52) 700" {
		t.Errorf("Compiling is %q, want green and bold", got)
	}

	// The failure.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#matrix button.node[data-id^="test@"]`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "test's log", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent.includes('to rerun pass --test render'))`, 30*time.Second)
	poll(ctx, t, "test's exit code", `document.querySelector('.logbar .status').textContent.includes('exit 101')`, 5*time.Second)
	if got := eval[string](ctx, t, `getComputedStyle([...document.querySelectorAll('.log .ln span')].find(s => s.textContent === 'FAILED')).color`); got != "rgb(239, 83, 80)" {
		t.Errorf("FAILED is %s, want red rgb(239, 83, 80)", got)
	}
	screenshot(ctx, t, dir, "run-test-1280x800.png", 1280, 800)
	screenshot(ctx, t, dir, "run-test-420x800.png", 420, 800)
	if w := eval[float64](ctx, t, `document.documentElement.scrollWidth`); w > 420 {
		t.Errorf("at 420 px wide the page is %v px wide: it does not fit a narrow window", w)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}

	// Rerun flaky from the page, confirming.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#matrix button.node[data-id^="flaky@"]`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "flaky's first log", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent.includes('first time fails'))`, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.logbar .rerun`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the confirm dialog", `document.querySelector('#confirm').open`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-yes`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "flaky green after the rerun", cellHas("flaky", "st-success"), 30*time.Second)
	poll(ctx, t, "flaky's second log, in place of the first", `(() => { const t = [...document.querySelectorAll('.log .ln')].map(l => l.textContent).join('\n'); return t.includes('second time lucky') && !t.includes('first time fails'); })()`, 30*time.Second)
	if got := eval[string](ctx, t, `document.querySelector('.logbar .attempts').textContent`); got != "attempt 1 2" {
		t.Errorf("flaky's attempts read %q, want attempt 1 2", got)
	}

	// A deep link, in a fresh load of the page.
	ref := eval[string](ctx, t, `document.querySelectorAll('#crumbs a')[1].textContent`)
	if !regexp.MustCompile(`^[0-9a-f]{7}#1$`).MatchString(ref) {
		t.Fatalf("the run's ref in the crumbs is %q, want <sha7>#1", ref)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(s.base+"/#/run/"+strings.ReplaceAll(ref, "#", "%23")+"/test%40"+platformOf(hash)), chromedp.WaitReady(chromedp.CSS("#main"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "test's log from a deep link", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent.includes('to rerun pass --test render'))`, 30*time.Second)

	// Cancel the run from the page.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#cancelrun`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the confirm dialog", `document.querySelector('#confirm').open`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-yes`))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "hold cancelled", cellHas("hold", "st-cancelled"), 30*time.Second)
	poll(ctx, t, "the run ended", `document.querySelector('#conn').textContent === 'run ended'`, 30*time.Second)
	r.wait(t, 30*time.Second)

	// The board.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/#/")); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the board with the run", fmt.Sprintf(`[...document.querySelectorAll('table.runs a')].some(a => a.textContent === %q)`, ref), 30*time.Second)
	row := eval[string](ctx, t, `document.querySelector('table.runs tbody tr').textContent`)
	for _, want := range []string{ref, "main", "test@", "✓ 2", "✗ 1"} {
		if !strings.Contains(row, want) {
			t.Errorf("the board's row %q lacks %q", row, want)
		}
	}
	screenshot(ctx, t, dir, "board-1280x800.png", 1280, 800)

	// The live page waits for the next run, and follows it when it starts.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/#/run/live/test%40"+platformOf(hash))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the ended run", `document.querySelector('#conn').textContent === 'run ended' || document.querySelector('#conn').textContent === 'past run'`, 30*time.Second)
	// The raw log: the bytes the recipe wrote, escapes and all.
	raw := eval[string](ctx, t, `fetch(document.querySelector('.rawlink').href).then(r => r.text())`)
	if !strings.Contains(raw, "test render ... \x1b[31mFAILED\x1b[0m\n") {
		t.Errorf("the raw log lacks the recipe's bytes:\n%q", raw)
	}
	second := c.start(ctx, t)
	ref2 := strings.TrimSuffix(ref, "1") + "2"
	poll(ctx, t, "the page on the new run", fmt.Sprintf(`document.querySelectorAll('#crumbs a')[1].textContent === %q && document.querySelector('#conn').textContent === 'live'`, ref2), 30*time.Second)
	poll(ctx, t, "the new run's test log", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent.includes('to rerun pass --test render'))`, 30*time.Second)
	c.open(t, "hold")
	second.wait(t, 60*time.Second)
	poll(ctx, t, "the new run ended", `document.querySelector('#conn').textContent === 'run ended'`, 30*time.Second)
	if slices.Contains([]string{"", "live"}, ref) {
		t.Errorf("ref %q", ref)
	}
}

// platformOf reads the platform from a node's fragment.
func platformOf(hash string) string {
	_, p, _ := strings.Cut(hash, "%40")
	return p
}

var _ = context.Background
