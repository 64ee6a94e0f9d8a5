// Package command turns the text of a GitHub comment into exactly one of
// three outcomes: a typed [Command] to enqueue, a [Reply] to post at once
// (help, usage error, did-you-mean), or nothing at all (ignore).
//
// Commands are described once, in the table [Commands] returns; the parser
// reads their argument specs from it and `/ai help` is rendered from it, so
// the help can never disagree with what the parser accepts.
//
// Recognition rules (see [Parse] for the details):
//   - a command is a line that starts (after at most three spaces) with the
//     prefix, `/ai` by default, followed by a space, a tab or the end of the
//     line: `/aix` is not ours, `/ai` alone asks for the help;
//   - prefix and command names are case-insensitive (`/AI Plan` works);
//   - lines inside fenced code blocks (``` and ~~~), indented code blocks,
//     block quotes (including the lazy lines GitHub renders inside a
//     quote) and HTML comments are never commands;
//   - only the first command line of a comment counts; later ones are
//     ignored, whatever the first one turned out to be;
//   - only the first [MaxBodyBytes] of a comment are read, and a command
//     line longer than [MaxLineBytes] gets a usage reply.
package command

import (
	"fmt"
	"strings"
)

const (
	// DefaultPrefix starts every command unless configured otherwise.
	DefaultPrefix = "/ai"
	// MaxBodyBytes is how much of a comment is scanned; the rest (and a
	// line cut by the limit) is not read.
	MaxBodyBytes = 64 << 10
	// MaxLineBytes is the longest command line accepted.
	MaxLineBytes = 1 << 10
	// MaxWords bounds the words of a command with ArgSpec.Words.
	MaxWords = 16
	// maxPrefixBytes bounds a configured prefix.
	maxPrefixBytes = 32
)

// Name identifies a command. Names are lowercase.
type Name string

// The commands kubewright understands.
const (
	Containerize Name = "containerize"
	Plan         Name = "plan"
	Validate     Name = "validate"
	Review       Name = "review"
	Fix          Name = "fix"
	Help         Name = "help"
	Cancel       Name = "cancel"
	// The Day-2 operations (internal/ops carries them out) and diagnose.
	Scale     Name = "scale"
	Image     Name = "image"
	Autoscale Name = "autoscale"
	Resources Name = "resources"
	Rollback  Name = "rollback"
	Diagnose  Name = "diagnose"
)

// Place says where a comment was written, or where a command may be used.
// It is a bit set so a table entry can allow both.
type Place uint8

const (
	// Issue is a comment on an issue.
	Issue Place = 1 << iota
	// PullRequest is a comment on a pull request (an issue_comment event
	// whose issue has a pull_request field, or a review comment).
	PullRequest
	// Anywhere allows both; as an [Options.Context] it lifts every
	// restriction (for the CLI and tests).
	Anywhere = Issue | PullRequest
)

// String describes the place for people ("pull requests only").
func (p Place) String() string {
	switch p {
	case Issue:
		return "issues only"
	case PullRequest:
		return "pull requests only"
	case Anywhere:
		return "issues and pull requests"
	}
	return fmt.Sprintf("Place(%d)", uint8(p))
}

// ArgSpec says which arguments a command takes.
type ArgSpec struct {
	// Services: the command takes service names as positional arguments,
	// each a DNS-1123 label. None means every detected service.
	Services bool
	// Env: the command takes `--env ENV` (or `--env=ENV`), a DNS-1123
	// label naming the environment overlay.
	Env bool
	// Words, when set, is how the command's own arguments are written
	// ("SERVICE N [--force]"): the words after the name are kept as they
	// are in Command.Words, and the package that carries the command out
	// (internal/ops for the Day-2 operations) parses them, so its table
	// stays the one description of them. Services and Env are then unset.
	Words string
	// Plannable: `/ai plan NAME ...` answers with this command's plan and
	// diff and writes nothing.
	Plannable bool
}

// Spec is one entry of the command table.
type Spec struct {
	Name Name
	// Aliases are other accepted spellings, lowercase.
	Aliases []string
	Args    ArgSpec
	// Summary is one line, Markdown, shown in the help and in usage
	// replies.
	Summary string
	// Where the command may be used.
	Where Place
}

// Usage renders how the command is written, for example
// "/ai containerize [service ...] [--env ENV]". It is derived from the
// argument spec so it always matches what the parser accepts.
func (s Spec) Usage(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte(' ')
	b.WriteString(string(s.Name))
	if s.Args.Services {
		b.WriteString(" [service ...]")
	}
	if s.Args.Env {
		b.WriteString(" [--env ENV]")
	}
	if s.Args.Words != "" {
		b.WriteString(" " + s.Args.Words)
	}
	return b.String()
}

// Commands returns the command table, in the order the help lists it.
// Every call returns a fresh copy; callers may not change the parser by
// editing it.
func Commands() []Spec {
	return []Spec{
		{
			Name:    Containerize,
			Aliases: []string{"containerise"},
			Args:    ArgSpec{Services: true, Env: true},
			Summary: "Detect the services of this repository and open a validated pull request with their Dockerfiles, Kubernetes manifests and Flux wiring.",
			Where:   Anywhere,
		},
		{
			Name:    Plan,
			Args:    ArgSpec{Services: true, Env: true},
			Summary: "Reply with what `containerize` would write (the plan and a diff summary) without opening a pull request; `plan scale order-service 5` (or any Day-2 operation) answers with that operation's plan and diff instead.",
			Where:   Anywhere,
		},
		{
			Name:    Validate,
			Summary: "Validate the head of this pull request and report the result as a check run.",
			Where:   PullRequest,
		},
		{
			Name:    Help,
			Summary: "Show this list of commands.",
			Where:   Anywhere,
		},
		{
			Name:    Review,
			Summary: "Review this pull request now: inline comments on the findings it introduces, fixes you can commit, and what Flux will change.",
			Where:   PullRequest,
		},
		{
			Name:    Fix,
			Summary: "Commit the fixes of the findings this pull request introduces to its branch (or reply with them, for a branch kubewright cannot push to).",
			Where:   PullRequest,
		},
		{
			Name:    Scale,
			Args:    ArgSpec{Words: "SERVICE REPLICAS [--force]", Plannable: true},
			Summary: "Open a validated pull request that sets the service's replicas everywhere they are defined, keeping PodDisruptionBudgets consistent (refused while an autoscaler owns them, unless `--force`).",
			Where:   Issue,
		},
		{
			Name:    Image,
			Args:    ArgSpec{Words: "SERVICE TAG|DIGEST [--container NAME]", Plannable: true},
			Summary: "Open a validated pull request that sets the service's image tag or digest everywhere, pinning the Flux ImagePolicy that would move it back.",
			Where:   Issue,
		},
		{
			Name:    Autoscale,
			Args:    ArgSpec{Words: "SERVICE MIN MAX [--cpu 70%]", Plannable: true},
			Summary: "Open a validated pull request that gives the service a HorizontalPodAutoscaler (autoscaling/v2) with the CPU requests it needs.",
			Where:   Issue,
		},
		{
			Name:    Resources,
			Args:    ArgSpec{Words: "SERVICE [--cpu REQUEST/LIMIT] [--memory REQUEST/LIMIT] [--from-metrics] [--window 7d] [--container NAME]", Plannable: true},
			Summary: "Open a validated pull request that sets the service's requests and limits, or right-sizes them from its usage in Prometheus (`--from-metrics`).",
			Where:   Issue,
		},
		{
			Name:    Rollback,
			Args:    ArgSpec{Words: "SERVICE [--to SHA|TAG]", Plannable: true},
			Summary: "Open a pull request that restores the service's manifests and image as they were at a commit (by default, before its last change); Flux applies it after the merge.",
			Where:   Issue,
		},
		{
			Name:    Diagnose,
			Args:    ArgSpec{Words: "SERVICE [--fix]"},
			Summary: "Read the cluster (read-only) and answer why the service fails, traced to the lines of the repository; `--fix` also opens the pull request that fixes what has a repository fix.",
			Where:   Issue,
		},
		{
			Name:    Cancel,
			Summary: "Cancel the queued or running job of this issue or pull request.",
			Where:   Anywhere,
		},
	}
}

// lookup finds a command by name or alias; word must be lowercase.
func lookup(table []Spec, word string) (Spec, bool) {
	for _, s := range table {
		if string(s.Name) == word {
			return s, true
		}
		for _, a := range s.Aliases {
			if a == word {
				return s, true
			}
		}
	}
	return Spec{}, false
}

// ValidatePrefix reports whether prefix can start commands: '/' or '@'
// followed by 1 to 31 letters, digits, '-', '_' or '.'. Configuration
// calls it at start-up; [Parse] ignores every comment when given a prefix
// that fails it.
func ValidatePrefix(prefix string) error {
	const rule = "use '/' or '@' followed by letters, digits, '-', '_' or '.', at most 32 characters in all, like /ai or @kubewright"
	if len(prefix) < 2 || len(prefix) > maxPrefixBytes {
		return fmt.Errorf("command prefix %q: %s", prefix, rule)
	}
	if prefix[0] != '/' && prefix[0] != '@' {
		return fmt.Errorf("command prefix %q: %s", prefix, rule)
	}
	for i := 1; i < len(prefix); i++ {
		c := prefix[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("command prefix %q: %s", prefix, rule)
		}
	}
	return nil
}

// Options configure [Parse]. The zero value parses `/ai` commands on an
// issue.
type Options struct {
	// Prefix starts a command; empty means [DefaultPrefix]. It must pass
	// [ValidatePrefix]. Matching ignores case: `/AI` works like `/ai`.
	Prefix string
	// Context is where the comment was written. Zero means [Issue], the
	// more restrictive place: a pull-request-only command on a comment of
	// unknown origin gets a usage reply instead of running.
	Context Place
}

func (o Options) prefix() string {
	if o.Prefix == "" {
		return DefaultPrefix
	}
	return o.Prefix
}

func (o Options) context() Place {
	if o.Context == 0 {
		return Issue
	}
	return o.Context
}

// Kind says which of the three outcomes a [Result] holds.
type Kind uint8

const (
	// KindIgnore: the comment holds no command. The zero value.
	KindIgnore Kind = iota
	// KindCommand: Result.Command is set; enqueue it.
	KindCommand
	// KindReply: Result.Reply is set; post its text, run nothing.
	KindReply
)

func (k Kind) String() string {
	switch k {
	case KindIgnore:
		return "ignore"
	case KindCommand:
		return "command"
	case KindReply:
		return "reply"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Result is the outcome of [Parse]: exactly one of a command, a reply or
// ignore. Command is non-nil if and only if Kind is KindCommand, Reply if
// and only if Kind is KindReply; the zero Result means ignore.
type Result struct {
	Kind    Kind
	Command *Command
	Reply   *Reply
}

// Command is a recognized command with valid arguments.
type Command struct {
	// Name is never Help: help is answered with a Reply.
	Name Name
	// Args are the services named, each a DNS-1123 label, in the order
	// written, duplicates dropped. Empty means every detected service.
	Args []string
	// Env is the --env value (a DNS-1123 label), or empty.
	Env string
	// Words are the words after the name of a command whose spec has
	// ArgSpec.Words, as written (at most MaxWords, none quoted); for
	// `plan NAME ...` of a Plannable command, the words after NAME.
	Words []string `json:",omitempty"`
	// Op is, for Plan, the Plannable command to plan ("scale"); empty
	// when plan is containerize's.
	Op Name `json:",omitempty"`
	// Line is the 1-based line of the comment the command was found on.
	Line int
	// Raw is that line, trimmed, at most MaxLineBytes long.
	Raw string
}

// Reason says why a Reply was produced.
type Reason uint8

const (
	// ReasonHelp: `/ai help`, or the prefix alone.
	ReasonHelp Reason = iota + 1
	// ReasonUsage: a known command with bad arguments (unknown flag,
	// missing value, invalid service name, quotes, line too long).
	ReasonUsage
	// ReasonNotAllowed: a known command used where it is not allowed,
	// such as validate on an issue.
	ReasonNotAllowed
	// ReasonUnknown: the word after the prefix is not a command.
	ReasonUnknown
)

func (r Reason) String() string {
	switch r {
	case ReasonHelp:
		return "help"
	case ReasonUsage:
		return "usage"
	case ReasonNotAllowed:
		return "not-allowed"
	case ReasonUnknown:
		return "unknown"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Reply is an immediate answer to a comment; nothing is enqueued.
type Reply struct {
	Reason Reason
	// Text is the Markdown to post. User input appears in it only inside
	// code spans, shortened; no line of it starts with the prefix, so the
	// bot never answers its own reply.
	Text string
	// Command is the command the reply is about (ReasonUsage,
	// ReasonNotAllowed; Help for ReasonHelp), empty for ReasonUnknown.
	Command Name
	// Unknown (ReasonUnknown only) is everything after the prefix on the
	// command line, trimmed, with HTML comments removed: for
	// `/ai add an inventory service in Go` it is
	// "add an inventory service in Go". It is kept so a later free-text
	// intent feature can take over these comments without a fourth kind
	// of result.
	Unknown string
	// Suggestion (ReasonUnknown only) is the command the unknown word
	// probably meant, or empty.
	Suggestion Name
	// Line and Raw locate the command line, as in Command.
	Line int
	Raw  string
}
