// Package progress shows what a long command is doing: on a terminal a
// spinner line on stderr with the stage, counts and elapsed time, redrawn
// in place and cleared when the stage ends; elsewhere (CI logs, pipes)
// one line per finished stage that took long enough to matter. A nil *Reporter shows nothing, so callers
// pass it down without checking.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Options configure a Reporter.
type Options struct {
	// TTY redraws one spinner line in place; otherwise each finished
	// stage prints one line.
	TTY bool
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
	// Interval is how often the spinner line is redrawn (default 100ms;
	// negative: only when a stage starts, updates or ends).
	Interval time.Duration
	// MinPlain is the shortest stage that prints its line when not on a
	// terminal (default 500ms: a log shows the long steps, not every
	// millisecond one; negative: every stage).
	MinPlain time.Duration
}

// Reporter shows the progress of nested stages. It is safe for
// concurrent use.
type Reporter struct {
	w        io.Writer
	opts     Options
	mu       sync.Mutex
	stack    []*Step
	frame    int
	drawn    bool
	stopTick chan struct{}
}

// Step is one running stage. A nil *Step does nothing.
type Step struct {
	r        *Reporter
	label    string
	n, total int
	start    time.Time
	done     bool
}

// New returns a Reporter writing to w.
func New(w io.Writer, opts Options) *Reporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval == 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.MinPlain == 0 {
		opts.MinPlain = 500 * time.Millisecond
	}
	return &Reporter{w: w, opts: opts}
}

// ForStderr returns the Reporter for a command's stderr: nil when quiet,
// the spinner when w is a terminal, else one line per stage.
func ForStderr(w io.Writer, quiet bool) *Reporter {
	if quiet {
		return nil
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
	}
	return New(w, Options{TTY: tty})
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Start begins a stage, nested in the stage running now if there is one.
func (r *Reporter) Start(label string) *Step {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Step{r: r, label: label, start: r.opts.Now()}
	r.stack = append(r.stack, s)
	if r.opts.TTY {
		if r.stopTick == nil && r.opts.Interval > 0 {
			r.stopTick = make(chan struct{})
			go r.tick(r.stopTick, r.opts.Interval)
		}
		r.drawLocked()
	}
	return s
}

// Update sets the stage's count: n of total done (total 0: unknown).
func (s *Step) Update(n, total int) {
	if s == nil {
		return
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.n, s.total = n, total
	if s.r.opts.TTY && !s.done {
		s.r.drawLocked()
	}
}

// Done ends the stage (and any stage still running inside it). Calling
// it again does nothing.
func (s *Step) Done() {
	if s == nil {
		return
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.done {
		return
	}
	i := len(r.stack) - 1
	for i >= 0 && r.stack[i] != s {
		i--
	}
	if i < 0 {
		s.done = true
		return
	}
	for j := len(r.stack) - 1; j >= i; j-- {
		r.finishLocked(j)
	}
	r.stack = r.stack[:i]
	if !r.opts.TTY {
		return
	}
	if len(r.stack) > 0 {
		r.drawLocked()
		return
	}
	if r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.drawn = false
	}
	if r.stopTick != nil {
		close(r.stopTick)
		r.stopTick = nil
	}
}

// finishLocked marks stack[j] done and, in plain mode, prints its line.
func (r *Reporter) finishLocked(j int) {
	s := r.stack[j]
	s.done = true
	if r.opts.TTY {
		return
	}
	took := r.opts.Now().Sub(s.start)
	if took < r.opts.MinPlain {
		return
	}
	fmt.Fprintf(r.w, "kubewright: %s%s done in %s\n", r.pathLocked(j), counts(s), elapsed(took))
}

// pathLocked is the labels of stack[0..j] joined: "dryrun: kube-apiserver".
func (r *Reporter) pathLocked(j int) string {
	labels := make([]string, 0, j+1)
	for _, s := range r.stack[:j+1] {
		labels = append(labels, s.label)
	}
	return strings.Join(labels, ": ")
}

func (r *Reporter) tick(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			if len(r.stack) > 0 {
				r.frame++
				r.drawLocked()
			}
			r.mu.Unlock()
		}
	}
}

// drawLocked redraws the spinner line for the innermost stage.
func (r *Reporter) drawLocked() {
	if len(r.stack) == 0 {
		return
	}
	top := r.stack[len(r.stack)-1]
	outer := r.stack[0]
	fmt.Fprintf(r.w, "\r\x1b[K%s %s%s  %s", spinner[r.frame%len(spinner)], r.pathLocked(len(r.stack)-1), counts(top), elapsed(r.opts.Now().Sub(outer.start)))
	r.drawn = true
}

func counts(s *Step) string {
	switch {
	case s.total > 0:
		return fmt.Sprintf(" %d/%d", s.n, s.total)
	case s.n > 0:
		return fmt.Sprintf(" %d", s.n)
	}
	return ""
}

// elapsed rounds a duration for people: 850ms, 3.2s, 1m05s.
func elapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	m := d / time.Minute
	return fmt.Sprintf("%dm%02ds", m, (d-m*time.Minute)/time.Second)
}
