package publish

import (
	"context"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v88/github"
)

// WithBotLogin names the App's bot user ("kubewright[bot]"): reviews and
// comments are kubewright's only when this user wrote them. Without it,
// any bot's review or comment that carries kubewright's marker is taken
// for kubewright's.
func WithBotLogin(login string) Option { return func(p *Publisher) { p.bot = login } }

// ReviewComment is one inline comment of a review, on the head side of the
// pull request's diff: on Line of Path, or on StartLine..Line.
type ReviewComment struct {
	Path      string
	Line      int
	StartLine int // 0: one line
	// Body is Markdown. Fenced blocks (a ```suggestion included) are
	// published as written; @mentions elsewhere are made inert and secrets
	// are redacted everywhere.
	Body string
	// Key identifies the finding behind the comment (rule, object, field),
	// so that the next review recognises its own comments: it travels in
	// the comment as a hidden marker and comes back in ReviewHistory.
	Key string
}

// Review is the review of one head commit.
type Review struct {
	Head     string // the commit reviewed
	Body     string // Markdown, neutralised like comment bodies
	Comments []ReviewComment
}

// PostedReview is what PostReview did.
type PostedReview struct {
	ID int64
	// Existing is set when a review of this head was already there (a
	// retried or redelivered job): nothing was posted.
	Existing bool
	// Inline is the number of comments posted on lines; Moved lists the
	// comments the diff does not show (or past maxInline), which went into
	// the review body instead.
	Inline int
	Moved  []ReviewComment
}

const (
	// maxInline bounds the inline comments of one review; the rest are
	// listed in its body.
	maxInline = 100
	// maxBody is under GitHub's 65,536 characters for a body.
	maxBody = 60_000
	// maxReviewPages bounds the pages of reviews and files read.
	maxReviewPages = 30
)

// PostReview posts the review of rv.Head on a pull request as one
// pull request review (event COMMENT: reviews never block; the
// kubewright/review check run does). It posts once per head commit: a
// review of the same head that kubewright posted before is returned as
// it is. Comments on lines the pull request's diff does not show would
// make GitHub refuse the whole review, so they are listed in the body.
func (p *Publisher) PostReview(ctx context.Context, t Thread, rv Review) (*PostedReview, error) {
	if rv.Head == "" {
		return nil, fmt.Errorf("review of %s/%s#%d: the head commit is required", t.Owner, t.Name, t.Number)
	}
	id, existing, err := p.reviewOf(ctx, t, rv.Head)
	if err != nil {
		return nil, err
	}
	if existing {
		return &PostedReview{ID: id, Existing: true}, nil
	}
	lines, err := p.commentable(ctx, t)
	if err != nil {
		return nil, err
	}
	out := &PostedReview{}
	var drafts []*github.DraftReviewComment
	for _, c := range rv.Comments {
		if len(drafts) == maxInline || !lines.has(c.Path, c.StartLine, c.Line) {
			out.Moved = append(out.Moved, c)
			continue
		}
		d := &github.DraftReviewComment{
			Path: github.Ptr(c.Path), Line: github.Ptr(c.Line), Side: github.Ptr("RIGHT"),
			Body: github.Ptr(p.publishable(c.Body, findingMarker(p.clean(c.Key)))),
		}
		if c.StartLine > 0 && c.StartLine < c.Line {
			d.StartLine, d.StartSide = github.Ptr(c.StartLine), github.Ptr("RIGHT")
		}
		drafts = append(drafts, d)
	}
	body := rv.Body
	if len(out.Moved) > 0 {
		body += movedSection(out.Moved)
	}
	created, _, err := p.gh.PullRequests.CreateReview(ctx, t.Owner, t.Name, t.Number, &github.PullRequestReviewRequest{
		CommitID: github.Ptr(rv.Head), Event: github.Ptr("COMMENT"), Comments: drafts,
		Body: github.Ptr(p.publishable(body, reviewMarker(rv.Head))),
	})
	if err != nil {
		return nil, fmt.Errorf("post the review of %.7s on %s/%s#%d: %w", rv.Head, t.Owner, t.Name, t.Number, err)
	}
	out.ID, out.Inline = created.GetID(), len(drafts)
	return out, nil
}

// reviewOf finds kubewright's review of head among the pull request's
// reviews.
func (p *Publisher) reviewOf(ctx context.Context, t Thread, head string) (int64, bool, error) {
	opts := &github.ListOptions{PerPage: 100}
	for range maxReviewPages {
		reviews, resp, err := p.gh.PullRequests.ListReviews(ctx, t.Owner, t.Name, t.Number, opts)
		if err != nil {
			return 0, false, fmt.Errorf("list the reviews of %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
		}
		for _, r := range reviews {
			if r.GetCommitID() == head && p.ours(r.GetUser().GetLogin(), r.GetUser().GetType()) && markerOf(r.GetBody(), "review") == head {
				return r.GetID(), true, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, false, nil
}

// ours tells whether a REST author is kubewright: a bot, the configured
// bot login when there is one.
func (p *Publisher) ours(login, typ string) bool {
	if p.bot != "" {
		return strings.EqualFold(login, p.bot)
	}
	return typ == "Bot" || strings.HasSuffix(login, "[bot]")
}

// lineSet is, per file, the head-side lines the pull request's diff shows
// (where GitHub accepts a comment), grouped by hunk.
type lineSet map[string][][2]int

func (s lineSet) has(path string, start, end int) bool {
	if start <= 0 || start > end {
		start = end
	}
	for _, h := range s[path] {
		if h[0] <= start && end <= h[1] {
			return true
		}
	}
	return false
}

var hunkHeader = regexp.MustCompile(`^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@`)

// commentable reads the pull request's files and the head-side line
// ranges of their hunks.
func (p *Publisher) commentable(ctx context.Context, t Thread) (lineSet, error) {
	out := lineSet{}
	opts := &github.ListOptions{PerPage: 100}
	for range maxReviewPages {
		files, resp, err := p.gh.PullRequests.ListFiles(ctx, t.Owner, t.Name, t.Number, opts)
		if err != nil {
			return nil, fmt.Errorf("list the files of %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
		}
		for _, f := range files {
			out[f.GetFilename()] = hunkRanges(f.GetPatch())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// hunkRanges reads the head-side line range of each hunk of a patch.
func hunkRanges(patch string) [][2]int {
	var out [][2]int
	for _, l := range strings.Split(patch, "\n") {
		m := hunkHeader.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		start, _ := strconv.Atoi(m[1])
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		if n > 0 {
			out = append(out, [2]int{start, start + n - 1})
		}
	}
	return out
}

// movedSection lists, in the review body, the comments that could not go
// on their lines.
func movedSection(cs []ReviewComment) string {
	var b strings.Builder
	b.WriteString("\n\n### Outside the changed lines\n")
	for _, c := range cs {
		loc := c.Path
		if c.Line > 0 {
			loc = fmt.Sprintf("%s:%d", c.Path, c.Line)
		}
		fmt.Fprintf(&b, "\n**`%s`**\n\n%s\n", strings.ReplaceAll(loc, "`", "'"), c.Body)
	}
	return b.String()
}

// Markers are hidden HTML comments at the end of what kubewright posts:
// the head a review reviewed, the finding key of a comment (hex, so no
// text in it can end the comment).
const markerPrefix = "<!-- kubewright:"

func reviewMarker(head string) string { return markerPrefix + "review " + head + " -->" }

func findingMarker(key string) string {
	return markerPrefix + "finding " + hex.EncodeToString([]byte(key)) + " -->"
}

var markerLine = regexp.MustCompile(`<!-- kubewright:(review|finding) ([0-9a-fA-F]*) -->\s*$`)

// markerOf reads the marker of kind at the end of a body ("" if none).
func markerOf(body, kind string) string {
	m := markerLine.FindStringSubmatch(body)
	if m == nil || m[1] != kind {
		return ""
	}
	if kind == "finding" {
		key, err := hex.DecodeString(m[2])
		if err != nil {
			return ""
		}
		return string(key)
	}
	return m[2]
}

// publishable is publishableText ended with marker.
func (p *Publisher) publishable(text, marker string) string {
	return strings.TrimRight(p.publishableText(text), "\n") + "\n\n" + marker
}

// publishableText makes text safe to post: secrets redacted, @mentions
// and HTML comments outside code made inert (so no text can ping people
// or pose as a marker), bounded, an unclosed code fence closed.
func (p *Publisher) publishableText(text string) string {
	text = p.clean(text)
	if len(text) > maxBody {
		text = strings.ToValidUTF8(text[:maxBody], "") + "\n\n… (truncated)"
	}
	out, open := defuse(text)
	if open != "" {
		out += "\n" + open
	}
	return out
}
