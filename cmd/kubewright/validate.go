package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

func newValidateCmd() *cobra.Command {
	var (
		ephemeral   bool
		kubeconfig  string
		kubeContext string
		crds        []string
		format      string
		failOn      string
		assets      string
		noDryRun    bool
		require     []string
	)
	c := &cobra.Command{
		Use:   "validate [PATH]",
		Short: "Validate k8s/, gitops/ and Dockerfiles: kustomize, Flux wiring, schemas, dry-run, policy",
		Long: `Validate a repository the way the cluster and Flux will see it:
discover every kustomization root (and the directories Flux Kustomizations
point at), build them with kustomize, check the Flux wiring, decode every
object against its schema, lint Dockerfiles, apply policy, and send
everything to a kube-apiserver as a server-side apply with dryRun=All: CRDs
first, then Namespaces, then the rest.

Custom resources are checked against the CRDs kubewright carries (Flux,
Istio, CloudNativePG, MariaDB, MongoDB, RabbitMQ, External Secrets,
cert-manager, prometheus-operator, KEDA); --crds adds others, and a CRD given
there replaces the carried one of the same name.

--ephemeral (the default when no --kubeconfig is given and the binaries are
found in --assets, KUBEBUILDER_ASSETS, or ../lib/kubewright/assets beside
this binary, where ` + "`make install`" + ` puts them) starts a throwaway
kube-apiserver and etcd on 127.0.0.1; no real cluster is touched. With
--kubeconfig only dry-run requests reach that cluster.

A dry-run that cannot run (no kube-apiserver found) is skipped and shown as
skipped; --require dry-run (or validate.require: [dry-run] in
.github/kubewright.yaml) makes that an error, and so does naming a missing
--assets directory.

Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or runtime
error (a required stage that cannot run included), 3 nothing to validate.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			root, err := pathArg(args)
			if err != nil {
				return err
			}
			if format != "text" && format != "json" && format != "sarif" {
				return usageErr("--format %q: use text, json or sarif", format)
			}
			min, err := finding.ParseSeverity(failOn)
			if err != nil || min == finding.Info {
				return usageErr("--fail-on %q: use error or warning", failOn)
			}
			for _, r := range require {
				if r != config.RequireDryRun {
					return usageErr("--require %q: use %s", r, config.RequireDryRun)
				}
			}
			// The settings file's errors are Validate's findings; here it
			// only says whether the dry-run is mandatory.
			repoCfg, _ := config.LoadRepo(root)
			mustDryRun := len(require) > 0 || repoCfg != nil && repoCfg.Validate.Requires(config.RequireDryRun)
			val, err := app.NewValidation(c.Context(), app.ValidationSettings{
				CRDs: crds, Assets: assets, Ephemeral: ephemeral, RequireDryRun: mustDryRun, NoDryRun: noDryRun,
				Kubeconfig: kubeconfig, Context: kubeContext, Progress: reporter(c),
			})
			if err != nil {
				return usageErr("%v", err)
			}
			defer val.Close()
			rep, err := val.ValidateTree(c.Context(), root)
			if err != nil {
				return err
			}
			if rep.Roots == 0 && rep.Objects == 0 && rep.Dockerfiles == 0 && len(rep.Findings) == 0 {
				return nothingErr("nothing to validate in %s: no kustomization.yaml, manifests under k8s/ or gitops/, or Dockerfiles; run `kubewright containerize %s` first", root, root)
			}
			out := c.OutOrStdout()
			switch format {
			case "json":
				err = finding.WriteJSON(out, rep.Findings)
			case "sarif":
				err = finding.WriteSARIF(out, version, rep.Findings)
			default:
				err = finding.WriteText(out, rep.Findings)
				printStages(c, rep)
			}
			if err != nil {
				return err
			}
			if format != "text" {
				noteSkipped(c, rep)
			}
			if n := finding.AtLeast(rep.Findings, min); n > 0 {
				return &exitError{code: exitFail, err: fmt.Errorf("%d findings at or above %s", n, min)}
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&ephemeral, "ephemeral", false, "dry-run against a throwaway kube-apiserver on 127.0.0.1 (default when the binaries are available)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "dry-run against this cluster (only dry-run requests are sent)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context")
	f.StringArrayVar(&crds, "crds", nil, "file or directory of CRDs to check custom resources against, besides the carried ones (repeatable; replaces a carried CRD of the same name)")
	f.StringVar(&format, "format", "text", "output format: text, json or sarif")
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when findings at or above this severity: error or warning")
	f.StringVar(&assets, "assets", "", "directory with kube-apiserver and etcd (default $KUBEBUILDER_ASSETS, else ../lib/kubewright/assets from the binary, where make install puts them)")
	f.BoolVar(&noDryRun, "no-dry-run", false, "skip the server-side dry-run stage")
	f.StringSliceVar(&require, "require", nil, "fail when this stage cannot run instead of skipping it: dry-run")
	return c
}

// noteSkipped says on stderr which stages were skipped and why, for the
// formats that print no stage table.
func noteSkipped(c *cobra.Command, rep *validate.Report) {
	for _, s := range rep.Stages {
		if s.Skipped != "" {
			fmt.Fprintf(c.ErrOrStderr(), "kubewright: %s skipped: %s\n", s.Name, s.Skipped)
		}
	}
}

func printStages(c *cobra.Command, rep *validate.Report) {
	w := c.ErrOrStderr()
	fmt.Fprintf(w, "\n%d kustomization roots, %d objects\n", rep.Roots, rep.Objects)
	for _, s := range rep.Stages {
		if s.Skipped != "" {
			fmt.Fprintf(w, "  %-10s SKIP  %s\n", s.Name, s.Skipped)
			continue
		}
		status := "pass"
		if s.Errors > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(w, "  %-10s %s  %d errors, %d warnings  (%s)\n", s.Name, status, s.Errors, s.Warnings, s.Duration.Round(1e6))
	}
}
