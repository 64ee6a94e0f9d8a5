package progress

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeClock advances by step on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// script is a validate-like run: nested stages, counts, an early Done of
// an outer stage that ends its inner one, and repeated Done calls.
func script(r *Reporter) {
	b := r.Start("build")
	b.Update(1, 3)
	b.Update(3, 3)
	b.Done()
	d := r.Start("dryrun")
	api := r.Start("kube-apiserver")
	api.Done()
	api.Done()
	r.Start("apply").Update(40, 0)
	d.Done()
	r.Start("model call 1").Done()
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		tty  bool
	}{{"plain", false}, {"tty", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := &fakeClock{t: time.Unix(0, 0), step: 350 * time.Millisecond}
			// MinPlain 1s: the build (3 readings) and the dry-run print,
			// the quick steps do not.
			script(New(&buf, Options{TTY: tt.tty, Now: clock.now, Interval: -1, MinPlain: time.Second}))
			// Escape sequences made visible, one redraw per line.
			got := strings.NewReplacer("\r", "\n<CR>", "\x1b[K", "<EL>").Replace(buf.String())
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestNilReporter(t *testing.T) {
	var r *Reporter
	s := r.Start("x")
	s.Update(1, 2)
	s.Done()
	if ForStderr(&bytes.Buffer{}, true) != nil {
		t.Error("quiet gave a reporter")
	}
	if r := ForStderr(&bytes.Buffer{}, false); r == nil || r.opts.TTY {
		t.Error("a buffer is not a terminal: want the plain reporter")
	}
}

func TestTickerRedrawsAndStops(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	r := New(w, Options{TTY: true, Interval: time.Millisecond})
	s := r.Start("dryrun")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := strings.Count(buf.String(), "\r\x1b[K")
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spinner was not redrawn: %q", buf.String())
		}
		time.Sleep(time.Millisecond)
	}
	s.Done()
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the line is not cleared at the end: %q", out)
	}
	if r.stopTick != nil {
		t.Error("ticker still running")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 850 * time.Millisecond: "850ms", 3240 * time.Millisecond: "3.2s", 65 * time.Second: "1m05s",
	} {
		if got := elapsed(d); got != want {
			t.Errorf("elapsed(%v) = %q, want %q", d, got, want)
		}
	}
}
