package web

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/fsnotify/fsnotify"

	"github.com/odu-ci/odu/platform"
)

// TestLongLog: a 200,000-line log opens at its end, keeps only the lines
// near the viewport in the page, finds a line by search, and scrolls to
// its top.
func TestLongLog(t *testing.T) {
	c := newCheckout(t, `
[metadata("ci")]
ci: long hold

long:
    #!/bin/sh
    awk 'BEGIN { for (i = 1; i <= 200000; i++) { if (i % 1000 == 0) printf "\033[32mline %d\033[0m ok\n", i; else printf "line %d of a long log\n", i } }'

hold:
    `+gate("hold")+`
`)
	ctx := browser(t, 1280, 800)
	r := c.start(ctx, t)
	s := serve(t, c.dir, "127.0.0.1:0")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url("#/run/live"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "long green", cellHas("long", "st-success"), 60*time.Second)
	// With the keyboard: the node's cell, Enter.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#matrix button.node[data-id^="long@"]`)), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the log's last line, followed", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent === '200000line 200000 ok')`, 60*time.Second)
	if n := eval[int](ctx, t, `document.querySelectorAll('.log .ln').length`); n > 400 {
		t.Errorf("%d lines in the page's DOM for a 200,000-line log, want only those near the viewport", n)
	}
	if got := eval[string](ctx, t, `getComputedStyle([...document.querySelectorAll('.log .ln span')].find(s => s.textContent === 'line 200000')).color`); got != "rgb(138, 226, 52)" {
		t.Errorf("line 200000's colour = %s, want green rgb(138, 226, 52)", got)
	}
	// Search.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`.log`)), chromedp.KeyEvent("/")); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "/ focusing the search", `document.activeElement === document.querySelector('.logbar .q')`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("line 123456 of"+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the line found", `(document.querySelector('.log .ln.hit') || {}).textContent === '123456line 123456 of a long log'`, 10*time.Second)
	// The top.
	got := eval[string](ctx, t, `(() => {
		const el = document.querySelector('.log');
		el.scrollTop = 0;
		return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(el.querySelector('.ln').textContent))));
	})()`)
	if got != "1line 1 of a long log" {
		t.Errorf("at the top, the first line shown is %q, want line 1", got)
	}
	// Escape leaves the search, then the log.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`.logbar .q`)), chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the run page without the log", `location.hash === '#/run/live' && !document.querySelector('.log')`, 5*time.Second)
	c.open(t, "hold")
	r.wait(t, 30*time.Second)
}

// TestRestartResume: odu web stops and starts again while a node writes
// its log; the page says it is reconnecting, reconnects, and has every
// byte of the log once.
func TestRestartResume(t *testing.T) {
	c := newCheckout(t, `
[metadata("ci")]
ci: stream

stream:
    #!/bin/sh
    i=1; while [ $i -le 150 ]; do echo "a$i"; i=$((i+1)); done
    printf 'progress 10%%'
    touch {{GATES}}/a-done
    `+gate("one")+`
    printf '\rprogress 100%%\n'
    i=1; while [ $i -le 150 ]; do printf '\033[34mb%d\033[0m\n' $i; i=$((i+1)); done
    touch {{GATES}}/b-done
    `+gate("two")+`
    i=1; while [ $i -le 150 ]; do echo "c$i"; i=$((i+1)); done
`)
	ctx := browser(t, 1280, 800)
	r := c.start(ctx, t)
	s := serve(t, c.dir, "127.0.0.1:0")
	addr := strings.TrimPrefix(s.base, "http://")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url("#/run/live/stream@"+string(platform.Local())))); err != nil {
		t.Fatal(err)
	}
	waitFile(t, c.gates, "a-done")
	poll(ctx, t, "the progress line", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent === '151progress 10%')`, 30*time.Second)

	s.stop()
	poll(ctx, t, "the page saying it reconnects", `document.querySelector('#conn').textContent === 'reconnecting…'`, 10*time.Second)
	c.open(t, "one")
	waitFile(t, c.gates, "b-done")
	serve(t, c.dir, addr) // the same address: the page reconnects to it
	poll(ctx, t, "b150, after the restart", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent === '301b150')`, 30*time.Second)
	poll(ctx, t, "the page live again", `document.querySelector('#conn').textContent === 'live'`, 10*time.Second)
	c.open(t, "two")
	poll(ctx, t, "c150", `[...document.querySelectorAll('.log .ln')].some(l => l.textContent === '451c150')`, 30*time.Second)
	r.wait(t, 30*time.Second)

	lines := eval[[]*string](ctx, t, logLinesJS)
	var want []string
	for _, p := range []string{"a", "progress 100%", "b", "c"} {
		if p == "progress 100%" {
			want = append(want, p)
			continue
		}
		for i := 1; i <= 150; i++ {
			want = append(want, fmt.Sprintf("%s%d", p, i))
		}
	}
	if len(lines) != len(want) {
		t.Errorf("the page shows %d lines, want %d", len(lines), len(want))
	}
	for i := range min(len(lines), len(want)) {
		got := "(not shown)"
		if lines[i] != nil {
			got = *lines[i]
		}
		if got != want[i] {
			t.Errorf("line %d = %q, want %q", i+1, got, want[i])
		}
	}
}

// waitFile waits (bounded) for dir/name to exist, on fsnotify's events.
func waitFile(t *testing.T, dir, name string) {
	t.Helper()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
		return
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-w.Events:
			if filepath.Base(ev.Name) == name {
				return
			}
		case err := <-w.Errors:
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("%s did not appear in %s within a minute", name, dir)
		}
	}
}
