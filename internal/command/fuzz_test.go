package command

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks what must hold for any comment: Parse does not panic,
// the result is exactly one of its three kinds, a command's fields are
// valid (known name, DNS-label services and env, a line of the body), and
// a reply never reads as a command itself.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "/ai", "/ai help", "/ai containerize api web --env=prod", "/ai plan --env",
		"```\n/ai plan\n```\n/ai cancel", "~~~\n/ai plan", "> /ai plan\n/ai plan\n\n/ai plan",
		"<!--\n/ai plan\n-->/ai plan\n/ai plan <!-- x", "    /ai plan\n\t/ai plan",
		"/ai contanerize", "/ai valdate", "/AI PLAN API", "/ai plan \"a b\"", "/ai plan ``/ai``",
		"x\r\n/ai plan\r\n", "/aix plan", "> ```\n> /ai\n/ai validate", "<!-->\n/ai plan",
		"/ai plan " + strings.Repeat("a ", 600), "/ai \xff\xfe plan", "/ai add a service in Go",
	}
	for i, s := range seeds {
		f.Add(s, "", i%2 == 0)
	}
	f.Add("@kubewright plan api", "@kubewright", false)
	f.Add("/x help", "/x", true)
	f.Fuzz(func(t *testing.T, body, prefix string, onPR bool) {
		if ValidatePrefix(prefix) != nil {
			prefix = ""
		}
		opts := Options{Prefix: prefix, Context: Issue}
		if onPR {
			opts.Context = PullRequest
		}
		r := Parse(body, opts)
		// Only the scanned part of the body can hold the command line.
		lines := 0
		for rest := capBody(body); ; {
			lines++
			if _, rest = nextLine(rest); rest == "" {
				break
			}
		}
		switch r.Kind {
		case KindIgnore:
			if r.Command != nil || r.Reply != nil {
				t.Fatalf("ignore carries a value: %s", describe(r))
			}
		case KindCommand:
			c := r.Command
			if c == nil || r.Reply != nil {
				t.Fatalf("command result malformed: %s", describe(r))
			}
			spec, ok := lookup(Commands(), string(c.Name))
			if !ok || c.Name == Help {
				t.Fatalf("command name %q", c.Name)
			}
			if spec.Where&opts.Context == 0 {
				t.Fatalf("%s allowed in %v", c.Name, opts.Context)
			}
			if len(c.Args) > 0 && !spec.Args.Services || c.Env != "" && !spec.Args.Env {
				t.Fatalf("%s got arguments it does not take: %+v", c.Name, *c)
			}
			seen := map[string]bool{}
			for _, a := range c.Args {
				if !isDNSLabel(a) || seen[a] {
					t.Fatalf("service %q invalid or repeated in %q", a, c.Args)
				}
				seen[a] = true
			}
			if c.Env != "" && !isDNSLabel(c.Env) {
				t.Fatalf("env %q", c.Env)
			}
			checkLocation(t, c.Line, c.Raw, lines)
		case KindReply:
			rep := r.Reply
			if rep == nil || r.Command != nil {
				t.Fatalf("reply result malformed: %s", describe(r))
			}
			if rep.Reason < ReasonHelp || rep.Reason > ReasonUnknown || rep.Text == "" {
				t.Fatalf("reply %v %q", rep.Reason, rep.Text)
			}
			if !utf8.ValidString(rep.Text) {
				t.Fatalf("reply text is not UTF-8: %q", rep.Text)
			}
			if rep.Reason != ReasonUnknown && (rep.Unknown != "" || rep.Suggestion != "") {
				t.Fatalf("unknown fields on a %v reply", rep.Reason)
			}
			checkLocation(t, rep.Line, rep.Raw, lines)
			for _, ctx := range []Place{Issue, PullRequest} {
				if again := Parse(rep.Text, Options{Prefix: prefix, Context: ctx}); again.Kind != KindIgnore {
					t.Fatalf("reply parses as %s:\n%s", describe(again), rep.Text)
				}
			}
		default:
			t.Fatalf("kind %v", r.Kind)
		}
	})
}

func checkLocation(t *testing.T, line int, raw string, lines int) {
	t.Helper()
	if line < 1 || line > lines {
		t.Fatalf("line %d outside 1..%d", line, lines)
	}
	if raw == "" || len(raw) > MaxLineBytes || strings.ContainsAny(raw, "\r\n") {
		t.Fatalf("raw %q", raw)
	}
}
