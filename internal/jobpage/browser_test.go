package jobpage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (`make chromium` installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make chromium` (apt-get install chromium)")
	return ""
}

// rendered is what the test reads from the page once Mermaid is done.
type rendered struct {
	Mermaid     string   `json:"mermaid"`     // body's data-mermaid: rendered, error, missing, none
	SVGs        int      `json:"svgs"`        // <svg> elements in the diagram
	DiagramText []string `json:"diagramText"` // the SVG's text labels
	Stages      []string `json:"stages"`      // the validation table's first column
	DiffClasses []string `json:"diffClasses"` // class of each diff line
	DiffText    []string `json:"diffText"`
	Current     []string `json:"current"`
	Proposed    []string `json:"proposed"` // the changes table's rows, cells joined by |
	Status      string   `json:"status"`
	Headline    string   `json:"headline"`
	Columns     int      `json:"columns"` // grid columns of the comparison, 2 side by side
	AddColor    string   `json:"addColor"`
}

const readPage = `(() => {
  const texts = (sel) => Array.from(document.querySelectorAll(sel)).map(e => e.textContent.trim());
  const diff = Array.from(document.querySelectorAll('#diff span'));
  const add = document.querySelector('#diff span.add');
  return {
    mermaid: document.body.getAttribute('data-mermaid') || '',
    svgs: document.querySelectorAll('#diagram svg').length,
    diagramText: texts('#diagram svg text').filter(s => s !== ''),
    stages: texts('#stages tbody tr td:first-child'),
    diffClasses: diff.map(e => e.className),
    diffText: diff.map(e => e.textContent),
    current: texts('#current li'),
    proposed: Array.from(document.querySelectorAll('#proposed tbody tr')).map(tr => Array.from(tr.cells).map(c => c.innerText.trim()).join('|')),
    status: document.getElementById('status').textContent,
    headline: document.querySelector('header.job h1').textContent,
    columns: getComputedStyle(document.getElementById('compare')).gridTemplateColumns.split(' ').length,
    addColor: add ? getComputedStyle(add).backgroundColor : '',
  };
})()`

// TestBrowser signs alice in over HTTP, hands her session cookie to
// headless Chromium and checks the page as drawn: Mermaid's SVG with the
// services' names, the validation table, the diff's classes and colours,
// current state beside the proposed change, and no CSP violation. It saves
// a screenshot (testdata/jobpage.png with -update).
func TestBrowser(t *testing.T) {
	start := time.Now()
	exe := chromium(t)
	e := newEnv(t)
	alice, status := e.signIn(t, "alice", testJob)
	if status != 200 {
		t.Fatalf("sign-in ended in %d", status)
	}
	ck := e.sessionCookie(t, alice)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1100, 1300),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("no-sandbox", os.Geteuid() == 0))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	// Console errors and warnings, exceptions and the browser log (CSP
	// violations among them), read until the page is done.
	var (
		mu       sync.Mutex
		problems []string
		reading  sync.WaitGroup
	)
	cctx, stopConsole := context.WithCancel(ctx)
	messages := chromedp.Console(cctx)
	reading.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	})

	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: ck.Name, Value: ck.Value, URL: e.srv.URL + "/", HTTPOnly: new(true)}); err != nil {
		t.Fatalf("chromium: set the session cookie: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/jobs/"+testJob), chromedp.WaitVisible(chromedp.CSS("body[data-mermaid]"))); err != nil {
		t.Fatalf("chromium: open the page: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[rendered](readPage))
	if err != nil {
		t.Fatalf("chromium: read the page: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	stopConsole()
	reading.Wait()
	t.Logf("rendered in Chromium: %+v", got)

	if got.Mermaid != "rendered" || got.SVGs != 1 {
		t.Errorf("diagram: data-mermaid %q, %d <svg>; want rendered, 1", got.Mermaid, got.SVGs)
	}
	for _, name := range []string{"checkout", "cart", "orders-db", "HTTP", "SQL"} {
		if !containsString(got.DiagramText, name) {
			t.Errorf("the diagram's SVG text %q lacks %q", got.DiagramText, name)
		}
	}
	if strings.Join(got.Stages, ",") != "build,schema,flux,policy,dryrun" {
		t.Errorf("validation stages %q", got.Stages)
	}
	wantClasses := map[string]string{"-  replicas: 2": "del", "+  replicas: 3": "add", "@@ -6,7 +6,7 @@ metadata:": "hunk", "--- a/apps/cart/deployment.yaml": "meta", " spec:": "ctx"}
	for i, text := range got.DiffText {
		if want, ok := wantClasses[text]; ok {
			if got.DiffClasses[i] != want {
				t.Errorf("diff line %q has class %q, want %q", text, got.DiffClasses[i], want)
			}
			delete(wantClasses, text)
		}
	}
	if len(wantClasses) > 0 {
		t.Errorf("diff lines missing: %v (have %q)", wantClasses, got.DiffText)
	}
	if got.AddColor != "rgb(218, 251, 225)" {
		t.Errorf("an added line's background is %q, want the page.css green rgb(218, 251, 225)", got.AddColor)
	}
	if len(got.Current) != 4 || !strings.Contains(got.Current[0], "Deployment/shop/cart: 2 replicas") {
		t.Errorf("current state %q", got.Current)
	}
	if len(got.Proposed) != 1 || got.Proposed[0] != "Deployment/shop/cart\napps/cart/deployment.yaml:9|spec.replicas|2 → 3" {
		t.Errorf("proposed changes %q", got.Proposed)
	}
	if got.Columns != 2 {
		t.Errorf("current state and proposed changes are in %d columns, want 2 side by side", got.Columns)
	}
	if got.Status != "done" || got.Headline != "acme/shop#42" {
		t.Errorf("header: %q %q", got.Headline, got.Status)
	}
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}

	shot := filepath.Join(t.TempDir(), "jobpage.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "jobpage.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s (%d bytes); Chromium test took %v", shot, len(png), time.Since(start).Round(time.Millisecond))
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}
