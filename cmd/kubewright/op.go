package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/ops"
)

// opFlags are kubewright's own flags of `op`; every other word belongs to
// the operation (internal/ops parses it, as it parses `/ai scale ...`).
var opFlags = map[string]bool{"--dry-run": true, "--repo": true, "--prometheus": true, "--format": true,
	"--no-dry-run": true, "--assets": true, "--crds": true, "--quiet": true, "-q": true, "--help": true, "-h": true}

func newOpCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "op OPERATION SERVICE [ARGS...] [--dry-run] [--repo DIR]",
		Short: "Carry out a Day-2 operation (scale, image, autoscale, resources, rollback) on the repository's manifests",
		Long: `Plan a Day-2 operation the way ` + "`/ai <operation>`" + ` does: every place that
defines the service (k8s/, gitops/ bases and overlays, kustomize images and
replicas, Flux image setters) is edited consistently, keeping comments,
order and setter markers. The plan and the diff are printed; without
--dry-run the files are written into the working tree and validated with
every stage. Nothing is applied to a cluster: commit, open a pull request,
and Flux applies it after the merge.

Flags of kubewright itself (anywhere on the line):
  --dry-run           print the plan and the diff, write nothing
  --repo DIR          the repository (default: the current directory)
  --prometheus URL    the Prometheus server for resources --from-metrics
  --format text|json  output format (default text)
  --no-dry-run        skip the server-side dry-run stage of the validation
  --assets DIR        kube-apiserver and etcd for the dry-run
  --crds PATH         CRDs to check custom resources against (repeatable)

Exit status: 0 planned (and valid), 1 the written change has validation
errors, 2 usage or runtime error (an operation the repository refuses
included).`,
		SilenceUsage: true,
	}
	for _, s := range ops.Table() {
		spec := s
		sub := &cobra.Command{
			Use:                spec.Usage() + " [--dry-run] [--repo DIR]",
			Short:              spec.Summary,
			Long:               spec.Summary + "\n\n" + opArgsHelp(spec),
			DisableFlagParsing: true,
			RunE: func(c *cobra.Command, args []string) error {
				return runOp(c, spec.Name, args)
			},
		}
		c.AddCommand(sub)
	}
	return c
}

func opArgsHelp(s ops.Spec) string {
	var b strings.Builder
	b.WriteString("Arguments:\n")
	for _, a := range s.Args {
		name := strings.ToUpper(a.Name)
		if a.Flag != "" {
			name = a.Flag
		}
		fmt.Fprintf(&b, "  %-16s %s\n", name, a.Help)
	}
	return b.String()
}

// runOp splits kubewright's flags from the operation's words and runs it.
func runOp(c *cobra.Command, name string, args []string) error {
	s := app.OpSettings{Root: ".", Name: name}
	format := "text"
	quiet := false
	value := func(i *int, flag string) (string, error) {
		a := args[*i]
		if _, v, ok := strings.Cut(a, "="); ok {
			return v, nil
		}
		if *i+1 >= len(args) {
			return "", usageErr("%s needs a value", flag)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		flag, _, _ := strings.Cut(args[i], "=")
		if !opFlags[flag] {
			s.Words = append(s.Words, args[i])
			continue
		}
		var err error
		switch flag {
		case "--help", "-h":
			return c.Help()
		case "--dry-run":
			s.DryRun = true
		case "--no-dry-run":
			s.Validation.NoDryRun = true
		case "--quiet", "-q":
			quiet = true
		case "--repo":
			s.Root, err = value(&i, flag)
		case "--prometheus":
			s.Prometheus, err = value(&i, flag)
		case "--format":
			format, err = value(&i, flag)
		case "--assets":
			s.Validation.Assets, err = value(&i, flag)
		case "--crds":
			var v string
			v, err = value(&i, flag)
			s.Validation.CRDs = append(s.Validation.CRDs, v)
		}
		if err != nil {
			return err
		}
	}
	if format != "text" && format != "json" {
		return usageErr("--format %q: use text or json", format)
	}
	if _, err := pathArg([]string{s.Root}); err != nil {
		return err
	}
	if !quiet {
		s.Validation.Progress = reporter(c)
	}
	res, err := app.Operate(c.Context(), s)
	if app.IsSettingError(err) {
		return usageErr("%v", err)
	}
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Plan   *ops.Plan `json:"plan"`
			Diff   string    `json:"diff"`
			Report any       `json:"report,omitempty"`
		}{res.Plan, res.Plan.Diff(), res.Report}); err != nil {
			return err
		}
	} else {
		printOp(out, res, s.DryRun)
	}
	if res.Report != nil {
		if n := finding.AtLeast(res.Report.Findings, finding.Error); n > 0 {
			return &exitError{code: exitFail, err: fmt.Errorf("the change was written, and validation found %d errors", n)}
		}
	}
	return nil
}

func printOp(out io.Writer, res *app.OpResult, dryRun bool) {
	p := res.Plan
	fmt.Fprintf(out, "%s\n%s\n\n", p.Command, p.Summary)
	for _, ch := range p.Changes {
		loc := ch.File
		if ch.Line > 0 {
			loc = fmt.Sprintf("%s:%d", ch.File, ch.Line)
		}
		from, to := ch.From, ch.To
		if from == "" {
			from = "(none)"
		}
		if to == "" {
			to = "(removed)"
		}
		fmt.Fprintf(out, "  %s  %s %s: %s -> %s\n", loc, ch.Object, ch.Field, from, to)
	}
	for _, s := range []struct {
		title string
		items []string
	}{{"Warnings", p.Warnings}, {"Notes", p.Notes}} {
		if len(s.items) > 0 {
			fmt.Fprintf(out, "\n%s\n", s.title)
			for _, it := range s.items {
				fmt.Fprintf(out, "  - %s\n", it)
			}
		}
	}
	if p.Evidence != nil {
		fmt.Fprintln(out, "\nEvidence")
		for _, l := range p.Evidence.Lines() {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	if p.Undo != "" {
		fmt.Fprintf(out, "\nUndo: %s\n", p.Undo)
	}
	fmt.Fprintf(out, "\n%s", p.Diff())
	switch {
	case dryRun:
		fmt.Fprintln(out, "\nDry run: nothing was written.")
	case res.Report != nil:
		fmt.Fprintf(out, "\nWrote %d files; validation: %d errors, %d warnings.\n", len(p.Files),
			finding.AtLeast(res.Report.Findings, finding.Error), finding.AtLeast(res.Report.Findings, finding.Warning)-finding.AtLeast(res.Report.Findings, finding.Error))
		for _, f := range res.Report.Findings {
			fmt.Fprintf(out, "  %s:%d %s %s %s\n", f.File, f.Line, f.Severity, f.ID, f.Message)
		}
	}
}
