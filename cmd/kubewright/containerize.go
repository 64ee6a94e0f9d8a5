package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/job"
)

func newContainerizeCmd() *cobra.Command {
	var (
		opts   job.ContainerizeOptions
		format string
		only   []string
	)
	c := &cobra.Command{
		Use:   "containerize [PATH]",
		Short: "Write Dockerfiles, k8s/ manifests and Flux gitops/ for the services of a repository",
		Long: `Analyze a repository and write what is missing, with no network and no LLM:
a hardened multi-stage Dockerfile and .dockerignore per service, plain
Kubernetes manifests under k8s/, and Flux GitOps manifests under gitops/.
Existing files are kept unless --force; --dry-run prints a diff instead.
Defaults may come from .github/kubewright.yaml (containerize: ...).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			root, err := pathArg(args)
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			for _, o := range only {
				if o != draft.PartDockerfile && o != draft.PartK8s && o != draft.PartGitops {
					return usageErr("--only %q: use dockerfile, k8s or gitops", o)
				}
			}
			opts.Author.Only = only
			// Nothing is written for a repository without services: no
			// Flux, Istio or External Secrets scaffolding for nothing.
			opts.NeedServices = true
			plan, err := job.Containerize(c.Context(), root, opts)
			var none *job.NoServicesError
			if errors.As(err, &none) {
				return noServices(c.OutOrStdout(), root, none.Model)
			}
			if err != nil {
				return &exitError{code: exitFail, err: err}
			}
			out := c.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(plan)
			}
			if opts.DryRun {
				fmt.Fprint(out, plan.Diff)
				if plan.Diff != "" {
					fmt.Fprintln(out)
				}
			}
			printPlan(out, plan)
			return nil
		},
	}
	f := c.Flags()
	f.StringSliceVar(&opts.Author.Services, "services", nil, "only these `names` (comma-separated, as kubewright analyze lists them)")
	f.StringVar(&opts.Author.Env, "env", "", "GitOps environment overlay (default production)")
	f.StringVar(&opts.Author.Registry, "registry", "", "image registry prefix, e.g. ghcr.io/acme")
	f.StringVar(&opts.Author.NamespacePrefix, "namespace-prefix", "", "prefix for every namespace created")
	f.StringVar(&opts.Author.IngressHost, "ingress-host", "", "DNS suffix for user-facing services (<service>.<host>)")
	f.StringVar(&opts.Author.IngressClass, "ingress-class", "", "Ingress class for k8s/ (default: the repository's, else nginx)")
	f.StringVar(&opts.Author.RepoURL, "repo-url", "", "Git URL Flux pulls from")
	f.StringSliceVar(&only, "only", nil, "only these parts: dockerfile, k8s, gitops")
	f.BoolVar(&opts.Force, "force", false, "overwrite existing files that differ")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print a unified diff and write nothing")
	f.StringVar(&format, "format", "text", "output format: text or json")
	return c
}

func printPlan(out io.Writer, p *job.Plan) {
	printServices(out, p.Services)
	printErrors(out, p.Errors)
	verb := map[string]string{
		draft.ActionCreate: "create", draft.ActionUpdate: "update",
		draft.ActionKeep: "keep", draft.ActionUnchanged: "same",
	}
	counts := map[string]int{}
	for _, f := range p.Files {
		counts[f.Action]++
	}
	title := "Files"
	if p.DryRun {
		title = "Files (dry run: nothing written)"
	}
	fmt.Fprintf(out, "\n%s: %d created, %d updated, %d kept, %d unchanged\n", title,
		counts[draft.ActionCreate], counts[draft.ActionUpdate], counts[draft.ActionKeep], counts[draft.ActionUnchanged])
	for _, f := range p.Files {
		fmt.Fprintf(out, "  %-6s %s\n", verb[f.Action], f.Path)
	}
	if len(p.Assumptions) > 0 {
		fmt.Fprintf(out, "\nAssumptions (%d)\n", len(p.Assumptions))
		for _, a := range p.Assumptions {
			fmt.Fprintf(out, "  - %s\n", strings.TrimSpace(a))
		}
	}
}

// serviceMarkers are the files analyze recognizes a service by, for the
// message when it finds none.
const serviceMarkers = "go.mod, pom.xml, build.gradle(.kts), *.csproj, package.json, pyproject.toml or requirements.txt"

// noServices is the error for a model without services, nil otherwise:
// exit 3 when there is nothing kubewright could work on, exit 1 when
// projects are there but broken (their problems are printed first).
func noServices(out io.Writer, root string, m *analyze.SystemModel) error {
	if len(m.Services) > 0 {
		return nil
	}
	if len(m.Errors) == 0 {
		return nothingErr("no services found in %s: kubewright looks for %s; point it at the repository root", root, serviceMarkers)
	}
	printErrors(out, m.Errors)
	for _, e := range m.Errors {
		if e.Kind == "" {
			return &exitError{code: exitFail, err: fmt.Errorf("no service in %s could be analyzed: fix the problems listed above", root)}
		}
	}
	return nothingErr("no services kubewright can containerize in %s (see above)", root)
}
