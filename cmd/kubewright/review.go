package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/review"
)

func newReviewCmd() *cobra.Command {
	var (
		base, head, format, failOn, assets string
		crds                               []string
		noDryRun                           bool
	)
	c := &cobra.Command{
		Use:   "review --base REF [--head REF] [PATH]",
		Short: "Review a change as a pull request is reviewed: the findings it introduces, their fixes, what Flux will change",
		Long: `Review the change from --base to --head (default: the working tree as it
is, uncommitted changes included) of the git repository at PATH, the way
kubewright reviews a pull request: both sides validated with the base's
.github/kubewright.yaml, findings matched by rule, object and field (moved
lines are not new), a fix for each mechanical finding, and the objects each
kustomization root and Flux Kustomization renders, compared.

Nothing from either side runs; revisions are read from git, not checked out.

Exit status: 0 no finding introduced at or above --fail-on, 1 some, 2 usage
or runtime error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			root, err := pathArg(args)
			if err != nil {
				return err
			}
			if base == "" {
				return usageErr("--base is required: the branch, tag or commit the change is compared with (for example --base main)")
			}
			switch format {
			case "text", "json", "sarif", "markdown":
			default:
				return usageErr("--format %q: use text, json, sarif or markdown", format)
			}
			min, err := finding.ParseSeverity(failOn)
			if err != nil || min == finding.Info {
				return usageErr("--fail-on %q: use error or warning", failOn)
			}
			res, err := app.Review(c.Context(), app.ReviewSettings{Root: root, Base: base, Head: head,
				Validation: app.ValidationSettings{CRDs: crds, Assets: assets, NoDryRun: noDryRun, Progress: reporter(c)}})
			if app.IsSettingError(err) {
				return usageErr("%v", err)
			}
			if err != nil {
				return err
			}
			if err := printReview(c.OutOrStdout(), format, res); err != nil {
				return err
			}
			if n := finding.AtLeast(res.Review.Delta.Introduced, min); n > 0 {
				return &exitError{code: exitFail, err: fmt.Errorf("the change introduces %d findings at or above %s", n, min)}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&base, "base", "", "revision the change is compared with (branch, tag or commit); its settings are used")
	f.StringVar(&head, "head", "", "revision to review (default: the working tree)")
	f.StringVar(&format, "format", "text", "output format: text, json, sarif or markdown")
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when the change introduces findings at or above this severity: error or warning")
	f.StringArrayVar(&crds, "crds", nil, "file or directory of CRDs to check custom resources against (repeatable)")
	f.StringVar(&assets, "assets", "", "directory with kube-apiserver and etcd (default $KUBEBUILDER_ASSETS)")
	f.BoolVar(&noDryRun, "no-dry-run", false, "skip the server-side dry-run stage")
	return c
}

// reviewJSON is `review --format json`.
type reviewJSON struct {
	Base       string            `json:"base"`
	Head       string            `json:"head,omitempty"`
	Introduced []finding.Finding `json:"introduced"`
	Fixed      []finding.Finding `json:"fixed"`
	Kept       int               `json:"kept"`
	Fixes      []fixJSON         `json:"fixes"`
	Diff       review.ObjectDiff `json:"fluxDiff"`
}

type fixJSON struct {
	Findings    []string `json:"findings"`
	File        string   `json:"file"`
	StartLine   int      `json:"startLine"`
	EndLine     int      `json:"endLine"`
	Replacement string   `json:"replacement"`
	Title       string   `json:"title"`
}

func printReview(w io.Writer, format string, res *app.LocalReview) error {
	r := res.Review
	switch format {
	case "sarif":
		return finding.WriteSARIF(w, version, r.Delta.Introduced)
	case "json":
		out := reviewJSON{Base: res.BaseCommit, Head: res.HeadCommit, Introduced: nonNil(r.Delta.Introduced), Fixed: nonNil(r.Delta.Fixed),
			Kept: len(r.Delta.Kept), Fixes: []fixJSON{}, Diff: r.Diff}
		for _, c := range r.Comments {
			if c.Fix == nil {
				continue
			}
			fj := fixJSON{File: c.Fix.File, StartLine: c.Fix.StartLine, EndLine: c.Fix.EndLine, Replacement: c.Fix.Replacement, Title: c.Fix.Title}
			for _, f := range c.Findings {
				fj.Findings = append(fj.Findings, f.ID)
			}
			out.Fixes = append(out.Fixes, fj)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "markdown":
		var b strings.Builder
		b.WriteString(publish.ReviewBody(publish.ReviewView{Head: res.HeadCommit, Introduced: r.Delta.Introduced, Fixed: r.Delta.Fixed,
			Kept: len(r.Delta.Kept), FluxDiff: r.Diff.Markdown(review.RenderOptions{})}))
		for _, c := range r.Comments {
			loc := c.Path
			if c.Line > 0 {
				loc = fmt.Sprintf("%s:%d", c.Path, c.Line)
			}
			fmt.Fprintf(&b, "\n---\n\n**`%s`**\n\n%s", loc, job.CommentBody(c))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(w, "Introduced by the change (%d):\n", len(r.Delta.Introduced))
	if err := finding.WriteText(w, r.Delta.Introduced); err != nil {
		return err
	}
	for _, c := range r.Comments {
		if c.Fix == nil {
			continue
		}
		fmt.Fprintf(w, "\nfix %s:%d-%d: %s\n", c.Fix.File, c.Fix.StartLine, c.Fix.EndLine, c.Fix.Title)
		for _, l := range strings.SplitAfter(strings.TrimSuffix(c.Fix.Replacement, "\n"), "\n") {
			fmt.Fprintf(w, "  + %s", strings.TrimSuffix(l, "\n")+"\n")
		}
	}
	fmt.Fprintf(w, "\nResolved by the change: %d; already on the base: %d\n", len(r.Delta.Fixed), len(r.Delta.Kept))
	for _, root := range r.Diff.Roots {
		if root.Empty() {
			continue
		}
		fmt.Fprintf(w, "Flux: %s: %d added, %d changed, %d removed\n", root.Name, len(root.Added), len(root.Changed), len(root.Removed))
		for _, ch := range root.Changed {
			for _, fc := range ch.Fields {
				fmt.Fprintf(w, "  %s %s\n", ch.Object, fc.Path)
			}
		}
	}
	return nil
}

func nonNil(fs []finding.Finding) []finding.Finding {
	if fs == nil {
		return []finding.Finding{}
	}
	return fs
}
