package command

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// want describes the expected result of one Parse call. For replies,
// contains lists substrings of the reply text.
type want struct {
	kind       Kind
	name       Name     // command, or reply's Command
	args       []string // command services
	env        string
	line       int
	reason     Reason
	suggestion Name
	unknown    string
	contains   []string
	words      []string // a Words command's words
	op         Name     // plan's operation
}

func TestParse(t *testing.T) {
	cmd := func(name Name, line int, args ...string) want {
		return want{kind: KindCommand, name: name, line: line, args: args}
	}
	reply := func(reason Reason, line int, contains ...string) want {
		return want{kind: KindReply, reason: reason, line: line, contains: contains}
	}
	ignore := want{kind: KindIgnore}
	withEnv := func(w want, env string) want { w.env = env; return w }
	withSugg := func(w want, s Name, unknown string) want { w.suggestion, w.unknown = s, unknown; return w }
	withName := func(w want, n Name) want { w.name = n; return w }
	words := func(name Name, op Name, ws ...string) want {
		return want{kind: KindCommand, name: name, line: 1, op: op, words: ws}
	}

	tests := []struct {
		name string
		body string
		ctx  Place
		pfx  string
		want want
	}{
		// Day-2 operations keep their words for internal/ops to parse.
		{name: "scale keeps its words", body: "/ai scale order-service 5 --force", want: words(Scale, "", "order-service", "5", "--force")},
		{name: "resources keeps flags with slashes", body: "/ai resources api --cpu 100m/500m --memory=/1Gi", want: words(Resources, "", "api", "--cpu", "100m/500m", "--memory=/1Gi")},
		{name: "image keeps a digest", body: "/ai image api sha256:abc", want: words(Image, "", "api", "sha256:abc")},
		{name: "plan of an operation", body: "/ai plan scale order-service 3", want: words(Plan, Scale, "order-service", "3")},
		{name: "plan of an operation, any case", body: "/ai plan Rollback api --to v1.2.0", want: words(Plan, Rollback, "api", "--to", "v1.2.0")},
		{name: "plan of a service named like no operation", body: "/ai plan api", want: cmd(Plan, 1, "api")},
		{name: "operation without words", body: "/ai scale", want: withName(reply(ReasonUsage, 1, "needs its arguments", "SERVICE REPLICAS"), Scale)},
		{name: "plan of an operation without words", body: "/ai plan autoscale", want: withName(reply(ReasonUsage, 1, "needs its arguments"), Autoscale)},
		{name: "operation with quotes", body: "/ai image api \"1.2\"", want: withName(reply(ReasonUsage, 1, "Quotes are not supported"), Image)},
		{name: "operation with too many words", body: "/ai scale a b c d e f g h i j k l m n o p q", want: withName(reply(ReasonUsage, 1, "At most 16 words"), Scale)},
		{name: "operation on a pull request", body: "/ai scale api 3", ctx: PullRequest, want: withName(reply(ReasonNotAllowed, 1, "issues only"), Scale)},
		{name: "plan of an operation on a pull request", body: "/ai plan scale api 3", ctx: PullRequest, want: withName(reply(ReasonNotAllowed, 1, "issues only"), Scale)},
		{name: "diagnose is not plannable", body: "/ai plan diagnose api", want: cmd(Plan, 1, "diagnose", "api")},
		{name: "diagnose with --fix", body: "/ai diagnose api --fix", want: words(Diagnose, "", "api", "--fix")},

		// Recognition: start of line, prefix followed by space or EOL.
		{name: "plain containerize", body: "/ai containerize", want: cmd(Containerize, 1)},
		{name: "services and env", body: "/ai containerize api web --env staging", want: withEnv(cmd(Containerize, 1, "api", "web"), "staging")},
		{name: "env with equals", body: "/ai plan --env=prod api", want: withEnv(cmd(Plan, 1, "api"), "prod")},
		{name: "duplicate services dropped", body: "/ai plan api web api", want: cmd(Plan, 1, "api", "web")},
		{name: "tabs and extra spaces between words", body: "/ai\tplan \t api   web ", want: cmd(Plan, 1, "api", "web")},
		{name: "three leading spaces", body: "   /ai cancel", want: cmd(Cancel, 1)},
		{name: "four leading spaces is indented code", body: "    /ai cancel", want: ignore},
		{name: "leading tab is indented code", body: "\t/ai cancel", want: ignore},
		{name: "not at start of line", body: "please run /ai containerize", want: ignore},
		{name: "inline code is not at line start", body: "try `/ai containerize`", want: ignore},
		{name: "after text on an earlier line", body: "Thanks!\n/ai plan", want: cmd(Plan, 2)},
		{name: "prefix glued to a word is not ours", body: "/aix containerize", want: ignore},
		{name: "prefix followed by punctuation is not ours", body: "/ai, can you help?", want: ignore},
		{name: "other bot's command", body: "/assign me", want: ignore},
		{name: "prefix alone is help", body: "/ai", want: withName(reply(ReasonHelp, 1, "#### kubewright commands"), Help)},
		{name: "prefix and spaces is help", body: "/ai   \r\n", want: withName(reply(ReasonHelp, 1, "#### kubewright commands"), Help)},
		{name: "help", body: "/ai help", want: withName(reply(ReasonHelp, 1, "`/ai containerize [service ...] [--env ENV]`"), Help)},
		{name: "help with a topic is still help", body: "/ai help plan", want: withName(reply(ReasonHelp, 1), Help)},
		{name: "empty body", body: "", want: ignore},
		{name: "no command", body: "LGTM, thanks!\n\nShip it.", want: ignore},

		// Case.
		{name: "upper-case prefix", body: "/AI containerize", want: cmd(Containerize, 1)},
		{name: "mixed-case command", body: "/ai ConTainerize", want: cmd(Containerize, 1)},
		{name: "alias", body: "/ai containerise api", want: cmd(Containerize, 1, "api")},
		{name: "service names are not lowered", body: "/ai plan API", want: withName(reply(ReasonUsage, 1, "`API` is not a valid service name"), Plan)},

		// Line endings.
		{name: "CRLF", body: "Hi\r\n\r\n/ai plan api\r\nthanks\r\n", want: cmd(Plan, 3, "api")},
		{name: "lone CR ends a line", body: "Hi\r/ai plan api\rmore", want: cmd(Plan, 2, "api")},
		{name: "CRLF fence", body: "```\r\n/ai plan\r\n```\r\n/ai cancel\r\n", want: cmd(Cancel, 4)},

		// First command wins.
		{name: "first of two commands", body: "/ai plan\n/ai containerize", want: cmd(Plan, 1)},
		{name: "first command is a usage error", body: "/ai plan --bogus\n/ai containerize", want: withName(reply(ReasonUsage, 1, "Unknown flag `--bogus`"), Plan)},

		// Fenced code.
		{name: "backtick fence", body: "```\n/ai containerize\n```", want: ignore},
		{name: "fence with info string", body: "```bash\n/ai containerize\n```\n", want: ignore},
		{name: "after a closed fence", body: "```sh\n/ai plan\n```\n/ai containerize", want: cmd(Containerize, 4)},
		{name: "tilde fence", body: "~~~\n/ai containerize\n~~~", want: ignore},
		{name: "tilde fence with info", body: "~~~ text\n/ai plan\n~~~\n/ai cancel", want: cmd(Cancel, 4)},
		{name: "unclosed fence runs to the end", body: "```\n/ai plan\n\n\n/ai cancel", want: ignore},
		{name: "shorter run does not close", body: "````\n```\n/ai plan\n````\n/ai cancel", want: cmd(Cancel, 5)},
		{name: "other fence character does not close", body: "```\n~~~\n/ai plan\n```\n/ai cancel", want: cmd(Cancel, 5)},
		{name: "closing fence with text is not a close", body: "```\n``` x\n/ai plan", want: ignore},
		{name: "indented fence", body: "   ```\n/ai plan\n   ```\n/ai cancel", want: cmd(Cancel, 4)},
		{name: "backticks with backtick in info is not a fence", body: "``` a`b\n/ai plan", want: cmd(Plan, 2)},
		{name: "two backticks is not a fence", body: "``\n/ai plan", want: cmd(Plan, 2)},
		{name: "quote inside a fence", body: "```\n> /ai plan\n> more\n```\n/ai cancel", want: cmd(Cancel, 5)},
		{name: "comment opener inside a fence is code", body: "```\n<!--\n```\n/ai cancel", want: cmd(Cancel, 4)},

		// Indented code.
		{name: "indented code block", body: "Example:\n\n    /ai containerize\n\nDone.", want: ignore},
		{name: "after indented code", body: "    code\n/ai cancel", want: cmd(Cancel, 2)},
		{name: "space then tab is indented", body: "  \t/ai cancel", want: ignore},

		// Block quotes.
		{name: "quoted command", body: "> /ai containerize", want: ignore},
		{name: "quoted without space", body: ">/ai containerize", want: ignore},
		{name: "nested quote", body: "> > /ai containerize", want: ignore},
		{name: "indented quote", body: "  > /ai plan", want: ignore},
		{name: "email reply quote", body: "On Mon, Jan 2, 2026 at 10:00 Bot <bot@example.com> wrote:\n> /ai containerize\n> thanks", want: ignore},
		{name: "lazy line under a quote", body: "> quoted text\n/ai plan", want: ignore},
		{name: "after a quote and a blank line", body: "> quoted text\n\n/ai plan", want: cmd(Plan, 3)},
		{name: "after an empty quote line", body: "> quoted\n>\n/ai plan", want: cmd(Plan, 3)},
		{name: "fence inside a quote", body: "> ```\n> /ai plan\n> ```\n\n/ai cancel", want: cmd(Cancel, 5)},
		{name: "fence in quote then plain line", body: "> ```\n/ai cancel", want: cmd(Cancel, 2)},
		{name: "fence in quote does not hide later lines", body: "> ```\n> text\n\n/ai cancel\n```", want: cmd(Cancel, 4)},
		{name: "lazy line opening a fence", body: "> quoted\n```\n/ai plan\n```\n/ai cancel", want: cmd(Cancel, 5)},

		// HTML comments.
		{name: "one-line comment", body: "<!-- /ai containerize -->", want: ignore},
		{name: "multi-line comment", body: "<!--\n/ai containerize\n-->", want: ignore},
		{name: "multi-line comment then command", body: "<!--\n/ai containerize\n-->\n/ai plan", want: cmd(Plan, 4)},
		{name: "comment opened mid-line", body: "note <!-- hidden\n/ai containerize\n--> end", want: ignore},
		{name: "command after comment close on the same line", body: "<!-- x --> /ai plan", want: ignore},
		{name: "command split by a comment", body: "/a<!-- x -->i plan", want: ignore},
		{name: "blank line in a comment ends a quote", body: "> text <!--\n\n-->\n/ai plan", want: cmd(Plan, 4)},
		{name: "comment in a quoted paragraph keeps it lazy", body: "> text <!--\n-->\n/ai plan", want: ignore},
		{name: "unclosed comment runs to the end", body: "<!--\n/ai plan", want: ignore},
		{name: "empty comment forms are closed", body: "<!--> <!--->\n/ai plan", want: cmd(Plan, 2)},
		{name: "comment on the command line is dropped", body: "/ai plan api <!-- web --> shop", want: cmd(Plan, 1, "api", "shop")},
		{name: "comment opened on the command line", body: "/ai plan api <!--\n/ai cancel\n-->", want: cmd(Plan, 1, "api")},
		{name: "issue template comment", body: "<!-- Describe the change.\nUse /ai help for commands.\n-->\n\n/ai containerize --env dev", want: withEnv(cmd(Containerize, 5), "dev")},
		{name: "comment inside a quote", body: "> <!--\n/ai plan\n-->\n/ai cancel", want: cmd(Cancel, 4)},

		// Where a command is allowed.
		{name: "validate on a pull request", body: "/ai validate", ctx: PullRequest, want: cmd(Validate, 1)},
		{name: "validate on an issue", body: "/ai validate", ctx: Issue, want: withName(reply(ReasonNotAllowed, 1, "`/ai validate` works on pull requests only"), Validate)},
		{name: "validate with zero context is an issue", body: "/ai validate", want: withName(reply(ReasonNotAllowed, 1), Validate)},
		{name: "validate anywhere", body: "/ai validate", ctx: Anywhere, want: cmd(Validate, 1)},
		{name: "containerize on a pull request", body: "/ai containerize", ctx: PullRequest, want: cmd(Containerize, 1)},

		// Usage errors.
		{name: "unknown flag", body: "/ai containerize --force", want: withName(reply(ReasonUsage, 1, "Unknown flag `--force`", "Usage: `/ai containerize [service ...] [--env ENV]`"), Containerize)},
		{name: "short flag", body: "/ai plan -e prod", want: withName(reply(ReasonUsage, 1, "Unknown flag `-e`"), Plan)},
		{name: "env flag where not taken", body: "/ai cancel --env prod", want: withName(reply(ReasonUsage, 1, "Unknown flag `--env`"), Cancel)},
		{name: "env missing value at end", body: "/ai plan --env", want: withName(reply(ReasonUsage, 1, "`--env` needs a value"), Plan)},
		{name: "env followed by a flag", body: "/ai plan --env --env=x", want: withName(reply(ReasonUsage, 1, "`--env` needs a value"), Plan)},
		{name: "env empty after equals", body: "/ai plan --env=", want: withName(reply(ReasonUsage, 1, "`--env` needs a value"), Plan)},
		{name: "env twice", body: "/ai plan --env a --env=b", want: withName(reply(ReasonUsage, 1, "more than once"), Plan)},
		{name: "env path traversal", body: "/ai plan --env ../../etc", want: withName(reply(ReasonUsage, 1, "`../../etc` is not a valid environment name"), Plan)},
		{name: "invalid service name", body: "/ai containerize api web_ui", want: withName(reply(ReasonUsage, 1, "`web_ui` is not a valid service name"), Containerize)},
		{name: "service starting with a hyphen reads as a flag", body: "/ai plan api -x", want: withName(reply(ReasonUsage, 1, "Unknown flag `-x`"), Plan)},
		{name: "service too long", body: "/ai plan " + strings.Repeat("a", 64), want: withName(reply(ReasonUsage, 1, "is not a valid service name"), Plan)},
		{name: "service of 63 bytes", body: "/ai plan " + strings.Repeat("a", 63), want: cmd(Plan, 1, strings.Repeat("a", 63))},
		{name: "arguments to a command without any", body: "/ai cancel now", want: withName(reply(ReasonUsage, 1, "`/ai cancel` takes no arguments, but got `now`"), Cancel)},
		{name: "double quotes", body: `/ai plan "api web"`, want: withName(reply(ReasonUsage, 1, "Quotes are not supported"), Plan)},
		{name: "single quotes", body: "/ai plan 'api'", want: withName(reply(ReasonUsage, 1, "Quotes are not supported"), Plan)},
		{name: "typographic quotes", body: "/ai plan \u201capi\u201d", want: withName(reply(ReasonUsage, 1, "Quotes are not supported"), Plan)},
		{name: "line too long", body: "/ai plan " + strings.Repeat("a ", MaxLineBytes), want: reply(ReasonUsage, 1, "longer than 1024 bytes")},

		// Unknown commands and did-you-mean.
		{name: "typo containerize", body: "/ai contanerize", want: withSugg(reply(ReasonUnknown, 1, "I don't know the command `contanerize`. Did you mean `/ai containerize`?", "#### kubewright commands"), Containerize, "contanerize")},
		{name: "typo validate", body: "/ai valdate", ctx: PullRequest, want: withSugg(reply(ReasonUnknown, 1, "Did you mean `/ai validate`?"), Validate, "valdate")},
		{name: "transposition", body: "/ai paln", want: withSugg(reply(ReasonUnknown, 1, "Did you mean `/ai plan`?"), Plan, "paln")},
		{name: "prefix of a command", body: "/ai cont", want: withSugg(reply(ReasonUnknown, 1), Containerize, "cont")},
		{name: "longer word sharing a prefix", body: "/ai planning api", want: withSugg(reply(ReasonUnknown, 1), Plan, "planning api")},
		{name: "upper-case typo", body: "/ai CANCLE", want: withSugg(reply(ReasonUnknown, 1, "`CANCLE`"), Cancel, "CANCLE")},
		{name: "free text keeps the intent", body: "/ai add an inventory service in Go\nthanks", want: withSugg(reply(ReasonUnknown, 1, "I don't know the command `add`.", "#### kubewright commands"), "", "add an inventory service in Go")},
		{name: "free text drops comments", body: "/ai deploy <!-- x --> it", want: withSugg(reply(ReasonUnknown, 1), "", "deploy   it")},
		{name: "far word has no suggestion", body: "/ai xyzzy", want: withSugg(reply(ReasonUnknown, 1, "I don't know the command `xyzzy`.\n"), "", "xyzzy")},
		{name: "flag as command", body: "/ai --env prod containerize", want: withSugg(reply(ReasonUnknown, 1, "`--env`"), "", "--env prod containerize")},

		// Prefix variants.
		{name: "custom prefix", body: "@kubewright plan api", pfx: "@kubewright", want: cmd(Plan, 1, "api")},
		{name: "custom prefix any case", body: "@KubeWright plan", pfx: "@kubewright", want: cmd(Plan, 1)},
		{name: "default prefix not ours under a custom one", body: "/ai plan", pfx: "@kubewright", want: ignore},
		{name: "custom prefix in help", body: "/bot", pfx: "/bot", want: withName(reply(ReasonHelp, 1, "`/bot containerize [service ...] [--env ENV]`"), Help)},
		{name: "invalid prefix ignores everything", body: "ai plan", pfx: "ai", want: ignore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.body, Options{Prefix: tc.pfx, Context: tc.ctx})
			checkResult(t, tc.body, got, tc.want)
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
}

func checkResult(t *testing.T, body string, got Result, w want) {
	t.Helper()
	if got.Kind != w.kind {
		t.Fatalf("Parse(%q) kind = %v, want %v (result %+v)", body, got.Kind, w.kind, describe(got))
	}
	switch w.kind {
	case KindIgnore:
		if got.Command != nil || got.Reply != nil {
			t.Fatalf("ignore result carries %+v", describe(got))
		}
	case KindCommand:
		c := got.Command
		if c == nil || got.Reply != nil {
			t.Fatalf("command result malformed: %+v", describe(got))
		}
		if c.Name != w.name || c.Env != w.env || c.Line != w.line || !reflect.DeepEqual(c.Args, w.args) ||
			c.Op != w.op || !reflect.DeepEqual(c.Words, w.words) {
			t.Fatalf("command = %+v, want name=%s args=%q env=%q line=%d op=%q words=%q", *c, w.name, w.args, w.env, w.line, w.op, w.words)
		}
		if c.Raw == "" || strings.ContainsAny(c.Raw, "\r\n") {
			t.Fatalf("command Raw = %q", c.Raw)
		}
	case KindReply:
		r := got.Reply
		if r == nil || got.Command != nil {
			t.Fatalf("reply result malformed: %+v", describe(got))
		}
		if r.Reason != w.reason || r.Line != w.line || r.Command != w.name {
			t.Fatalf("reply reason=%v line=%d command=%q, want %v %d %q\n%s", r.Reason, r.Line, r.Command, w.reason, w.line, w.name, r.Text)
		}
		if r.Suggestion != w.suggestion || r.Unknown != w.unknown {
			t.Fatalf("reply suggestion=%q unknown=%q, want %q %q", r.Suggestion, r.Unknown, w.suggestion, w.unknown)
		}
		for _, s := range w.contains {
			if !strings.Contains(r.Text, s) {
				t.Errorf("reply text lacks %q:\n%s", s, r.Text)
			}
		}
	}
}

func describe(r Result) string {
	switch {
	case r.Command != nil:
		return "command " + string(r.Command.Name) + " " + strings.Join(r.Command.Args, ",")
	case r.Reply != nil:
		return "reply " + r.Reply.Reason.String() + ":\n" + r.Reply.Text
	}
	return "ignore"
}

// Replies are posted as comments the bot may receive again: none of them
// may read as a command.
func TestRepliesAreNotCommands(t *testing.T) {
	bodies := []string{
		"/ai", "/ai help", "/ai contanerize", "/ai validate", "/ai plan --x",
		"/ai plan \"a\"", "/ai plan ``/ai` x", "/ai \x00/ai\x01 plan", "/ai plan " + strings.Repeat("x ", 600),
	}
	for _, pfx := range []string{"", "@kubewright", "/x"} {
		for _, b := range bodies {
			b = strings.ReplaceAll(b, "/ai", prefixOr(pfx))
			r := Parse(b, Options{Prefix: pfx})
			if r.Reply == nil {
				t.Fatalf("Parse(%q) = %s, want a reply", b, describe(r))
			}
			for _, ctx := range []Place{Issue, PullRequest} {
				if again := Parse(r.Reply.Text, Options{Prefix: pfx, Context: ctx}); again.Kind != KindIgnore {
					t.Errorf("reply to %q parses as %s:\n%s", b, describe(again), r.Reply.Text)
				}
			}
		}
	}
}

func prefixOr(p string) string {
	if p == "" {
		return DefaultPrefix
	}
	return p
}

func TestHelpGolden(t *testing.T) {
	got := HelpText("")
	path := filepath.Join("testdata", "help.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/command -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("help text differs from %s (rerun with -update after an intended change):\n%s", path, got)
	}
	// The reply to /ai help is exactly the generated text.
	if r := Parse("/ai help", Options{}); r.Reply == nil || r.Reply.Text != got {
		t.Errorf("/ai help reply differs from HelpText")
	}
}

// The help lists every command of the table with its usage and summary,
// so adding a command cannot forget the help.
func TestHelpCoversTable(t *testing.T) {
	h := HelpText("/ai")
	for _, s := range Commands() {
		for _, part := range []string{"`" + s.Usage("/ai") + "`", s.Summary, s.Where.String()} {
			if !strings.Contains(strings.ToLower(h), strings.ToLower(part)) {
				t.Errorf("help lacks %q for %s", part, s.Name)
			}
		}
		for _, a := range s.Aliases {
			if !strings.Contains(h, "`/ai "+a+"`") {
				t.Errorf("help lacks alias %s", a)
			}
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Commands() {
		words := append([]string{string(s.Name)}, s.Aliases...)
		for _, w := range words {
			if w != strings.ToLower(w) || !isDNSLabel(w) {
				t.Errorf("command word %q must be a lowercase label", w)
			}
			if seen[w] {
				t.Errorf("command word %q appears twice", w)
			}
			seen[w] = true
		}
		if s.Summary == "" || strings.Contains(s.Summary, "\n") {
			t.Errorf("%s: summary must be one non-empty line", s.Name)
		}
		if s.Where == 0 || s.Where&^Anywhere != 0 {
			t.Errorf("%s: where = %v", s.Name, s.Where)
		}
	}
	// Callers get a copy.
	Commands()[0].Name = "changed"
	if Commands()[0].Name == "changed" {
		t.Error("Commands returns shared state")
	}
}

func TestBodyLimit(t *testing.T) {
	// pad + "/ai plan" is exactly MaxBodyBytes long.
	pad := strings.Repeat("z", MaxBodyBytes-len("/ai plan")-1) + "\n"
	tests := []struct {
		name string
		body string
		want Kind
	}{
		{"command well inside the limit", strings.Repeat("x\n", 1000) + "/ai plan\n", KindCommand},
		{"command ending at the limit", pad + "/ai plan", KindCommand},
		{"command ending at the limit, more lines", pad + "/ai plan\nmore", KindCommand},
		{"command ending at the limit, CRLF", pad + "/ai plan\r\nmore", KindCommand},
		{"command line cut by the limit", pad + "/ai plan api", KindIgnore},
		{"command past the limit", strings.Repeat("y", MaxBodyBytes) + "\n/ai plan", KindIgnore},
		{"no newline in the first 64 KiB", "/ai plan " + strings.Repeat("y", MaxBodyBytes), KindIgnore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.body, Options{}); got.Kind != tc.want {
				t.Fatalf("kind = %v, want %v", got.Kind, tc.want)
			}
		})
	}
}

func TestLineTooLongRawIsBounded(t *testing.T) {
	r := Parse("/ai plan "+strings.Repeat("é", MaxLineBytes), Options{})
	if r.Reply == nil || r.Reply.Reason != ReasonUsage {
		t.Fatalf("got %s", describe(r))
	}
	if len(r.Reply.Raw) > MaxLineBytes || !strings.HasPrefix(r.Reply.Raw, "/ai plan é") || strings.ContainsRune(r.Reply.Raw, '\uFFFD') {
		t.Fatalf("Raw = %d bytes %q...", len(r.Reply.Raw), r.Reply.Raw[:20])
	}
	// Exactly MaxLineBytes is still accepted.
	line := "/ai plan " + strings.Repeat("a", 60)
	line += strings.Repeat(" a", (MaxLineBytes-len(line))/2)
	line += strings.Repeat(" ", MaxLineBytes-len(line))
	if r := Parse(line, Options{}); r.Kind != KindCommand {
		t.Fatalf("line of %d bytes: %s", len(line), describe(r))
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"/ai", "@kubewright", "/k8s-bot", "/a.b_c", "/" + strings.Repeat("a", 31)} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "/", "ai", "/a i", "/ai!", "- ", "#", "/" + strings.Repeat("a", 32), "/é"} {
		err := ValidatePrefix(p)
		if err == nil {
			t.Errorf("ValidatePrefix(%q) = nil, want an error", p)
		} else if !strings.Contains(err.Error(), "like /ai") {
			t.Errorf("error %q does not say what to use", err)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := map[string]Name{
		"contanerize":  Containerize,
		"containerzie": Containerize,
		"dockerize":    "",
		"containers":   Containerize,
		"containerise": Containerize, // an alias is an exact match
		"valdate":      Validate,
		"validat":      Validate,
		"plna":         Plan,
		"pan":          Plan,
		"halp":         Help,
		"cancle":       Cancel,
		"cance":        Cancel,
		"p":            "",
		"go":           "",
		"add":          "",
		"deploy":       "",
		"":             "",
	}
	for word, want := range tests {
		if got := suggest(Commands(), word); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestCode(t *testing.T) {
	if got, want := echo(strings.Repeat("a", 50)), "`"+strings.Repeat("a", maxEcho)+"…`"; got != want {
		t.Errorf("echo shortens to %q, want %q", got, want)
	}
	if got := echo("\xffab"); got != "`\uFFFDab`" {
		t.Errorf("echo of invalid UTF-8 = %q", got)
	}
	tests := map[string]string{
		"plan":                  "`plan`",
		"a`b":                   "``a`b``",
		"`x":                    "`` `x ``",
		"a``b`":                 "``` a``b` ```",
		"x\ny\rz":               "`x y z`",
		"\xff":                  "`\uFFFD`",
		"@octocat":              "`@octocat`",
		"<!-- x -->":            "`<!-- x -->`",
		strings.Repeat("a", 50): "`" + strings.Repeat("a", 50) + "`",
	}
	for in, want := range tests {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsDNSLabel(t *testing.T) {
	for _, s := range []string{"a", "api", "web-ui", "a1", "1a", "0", strings.Repeat("x", 63)} {
		if !isDNSLabel(s) {
			t.Errorf("isDNSLabel(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-a", "a-", "A", "a_b", "a.b", "é", strings.Repeat("x", 64), "..", "a/b"} {
		if isDNSLabel(s) {
			t.Errorf("isDNSLabel(%q) = true", s)
		}
	}
}

// Parse must stay linear in the body: every comment of a busy repository
// passes through it, and the body is untrusted.
func BenchmarkParse(b *testing.B) {
	big := func(unit string) string { return strings.Repeat(unit, MaxBodyBytes/len(unit)+1) }
	bodies := map[string]string{
		"typical":        "Thanks for the report!\n\n```yaml\nkey: value\n```\n\n> quoted\n\n/ai containerize api web --env staging\n",
		"prose-64k":      big("Some words of a long issue description, nothing else.\n"),
		"comments-64k":   big("<!--<!---->-->"),
		"fences-64k":     big("```\n~~~\n"),
		"quotes-64k":     big("> > > a <!--\n"),
		"one-line-64k":   big("a"),
		"unknown-typo":   "/ai contanerize " + strings.Repeat("x", 900),
		"long-arguments": "/ai plan " + strings.Repeat("ab ", 330),
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(min(len(body), MaxBodyBytes)))
			for b.Loop() {
				Parse(body, Options{Context: PullRequest})
			}
		})
	}
}
